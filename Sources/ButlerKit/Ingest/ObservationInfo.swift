/// What a raw header says about an observation, in instrument-independent terms
/// (the concepts of Rubin's `astro_metadata_translator`). Missing optional values stay `nil`.
public struct ObservationInfo: Sendable, Hashable {
    public var instrument: String
    /// Integer detector id.
    public var detectorId: Int
    /// Full detector name, unique within the instrument (`R22_S11`, `S1`, `ccd03`).
    public var detectorName: String
    /// The group of detectors (a raft), if the camera has one.
    public var detectorGroup: String?
    /// The detector's name within its group.
    public var detectorNameInGroup: String?
    /// Integer exposure id.
    public var exposureId: Int
    /// Observation id string (`AT_O_20230321_000053`).
    public var obsId: String
    /// Observing day, YYYYMMDD.
    public var dayObs: Int
    /// Sequence number within the day, if known.
    public var seqNum: Int?
    /// Group name of exposures taken together.
    public var group: String
    public var physicalFilter: String
    public var band: String
    /// Start of the exposure, TAI.
    public var datetimeBegin: TAITime?
    /// End of the exposure, TAI.
    public var datetimeEnd: TAITime?
    /// Shutter-open time in seconds.
    public var exposureTime: Double?
    public var darkTime: Double?
    /// science, bias, dark, flat, ... (lower case).
    public var observationType: String?
    public var observationReason: String?
    public var targetName: String?
    public var scienceProgram: String?
    /// Boresight ICRS right ascension in degrees.
    public var trackingRA: Double?
    /// Boresight ICRS declination in degrees.
    public var trackingDec: Double?
    /// Boresight rotation angle in degrees.
    public var rotationAngle: Double?
    /// Telescope azimuth at the start, degrees.
    public var azimuth: Double?
    /// Zenith angle at the start, degrees.
    public var zenithAngle: Double?
    /// Whether the detector saw sky photons; nil when not known. By default (as in Rubin's metadata translators) true
    /// for science and object exposures, false for bias and dark, unknown for the rest.
    public var canSeeSky: Bool? {
        get {
            if let explicitCanSeeSky { return explicitCanSeeSky }
            switch observationType?.lowercased() {
            case "science", "object": return true
            case "bias", "dark": return false
            default: return nil
            }
        }
        set { explicitCanSeeSky = newValue }
    }
    private var explicitCanSeeSky: Bool?
    /// Whether some of the content was simulated (Rubin's translators: false unless the header says so).
    public var hasSimulatedContent = false
    /// The observatory's day_obs offset from TAI midnight in seconds (Rubin: -12 h).
    public var dayObsOffsetSeconds: Int64

    public init(instrument: String, detectorId: Int, detectorName: String, exposureId: Int, obsId: String, dayObs: Int,
                group: String, physicalFilter: String, band: String, dayObsOffsetSeconds: Int64 = -12 * 3600) {
        self.instrument = instrument
        self.detectorId = detectorId
        self.detectorName = detectorName
        self.exposureId = exposureId
        self.obsId = obsId
        self.dayObs = dayObs
        self.group = group
        self.physicalFilter = physicalFilter
        self.band = band
        self.dayObsOffsetSeconds = dayObsOffsetSeconds
    }

    /// Whether this observation saw the sky as a science exposure (what `define-visits` turns into a visit).
    public var isScience: Bool {
        guard let t = observationType?.lowercased() else { return false }
        return t == "science" || t == "object"
    }
}
