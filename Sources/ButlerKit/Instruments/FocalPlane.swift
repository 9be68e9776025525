import Foundation

/// Where an instrument's detectors see the sky: the layout `define-visits` turns into visit and detector regions.
///
/// In an instrument definition's YAML (`focal_plane:`), any of:
/// ```yaml
/// focal_plane:
///   plate_scale: 20.0            # arcseconds per millimetre
///   detector_size: [40.72, 40.0] # millimetres (x, y), for every detector without its own
///   raft_pitch: 127.0            # detectors named R<row><column>/S<row><column> sit on Rubin's 5x5 raft grid,
///   sensor_pitch: 42.25          #   rafts and sensors counted from the centre (R22/S11 is at 0, 0)
///   detectors:                   # or each detector placed by hand (millimetres, degrees)
///     - {id: 0, center: [0.0, 0.0], size: [40.72, 40.0], yaw: 0.0}
///   field_radius: 1.1            # degrees: with nothing else, every region is the field's circle
/// ```
///
/// Focal-plane coordinates (x, y) in millimetres map to the sky through the gnomonic projection about the
/// boresight: +y points at the rotation angle (`sky_angle`) east of north and +x 90° further west, as on an image
/// shown with north up and east left at angle 0.
public struct FocalPlane: Sendable, Hashable, Decodable {
    public struct Placement: Sendable, Hashable, Decodable {
        public var id: Int
        public var center: [Double]
        public var size: [Double]?
        public var yaw: Double?
    }

    public var plate_scale: Double?
    public var detector_size: [Double]?
    public var raft_pitch: Double?
    public var sensor_pitch: Double?
    public var detectors: [Placement]?
    public var field_radius: Double?

    /// The corners of a detector in focal-plane millimetres, counter-clockwise, or nil when the layout does not place it.
    public func corners(of detector: InstrumentDefinition.Detector) -> [(x: Double, y: Double)]? {
        var center: (Double, Double)?
        var size = detector_size
        var yaw = 0.0
        if let placed = detectors?.first(where: { $0.id == detector.id }), placed.center.count == 2 {
            center = (placed.center[0], placed.center[1])
            if let s = placed.size { size = s }
            yaw = placed.yaw ?? 0
        } else if let raftPitch = raft_pitch, let sensorPitch = sensor_pitch,
                  let raft = Self.grid(detector.raft, "R"), let sensor = Self.grid(detector.name_in_raft, "S") {
            center = (Double(raft.column - 2) * raftPitch + Double(sensor.column - 1) * sensorPitch,
                      Double(raft.row - 2) * raftPitch + Double(sensor.row - 1) * sensorPitch)
        }
        guard let (cx, cy) = center, let size, size.count == 2 else { return nil }
        let (hw, hh) = (size[0] / 2, size[1] / 2)
        let (c, s) = (cos(yaw * .pi / 180), sin(yaw * .pi / 180))
        return [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)].map { (cx + $0.0 * c - $0.1 * s, cy + $0.0 * s + $0.1 * c) }
    }

    /// `R12` → row 1, column 2 (digits 0-4); nil for other names (corner rafts' `SG0`, `RXX`).
    static func grid(_ name: String?, _ prefix: Character) -> (row: Int, column: Int)? {
        guard let name, name.count == 3, name.first == prefix else { return nil }
        let digits = name.dropFirst().compactMap(\.wholeNumberValue)
        guard digits.count == 2, digits.allSatisfy({ (0...4).contains($0) }) else { return nil }
        return (digits[0], digits[1])
    }

    /// The direction of a focal-plane point for a pointing.
    ///
    /// - Parameters:
    ///   - boresight: where the focal plane's origin points.
    ///   - rotation: the angle of +y east of north, degrees.
    public func direction(x: Double, y: Double, boresight: UnitVector, rotation: Double) -> UnitVector? {
        guard let scale = plate_scale else { return nil }
        let k = scale / 3600 * .pi / 180
        let (c, s) = (cos(rotation * .pi / 180), sin(rotation * .pi / 180))
        let xi = k * (-x * c + y * s), eta = k * (x * s + y * c)
        return TangentPlane(center: boresight).direction(xi, eta)
    }
}

/// The regions `define-visits` gives a visit and its detectors.
public struct VisitRegions: Sendable {
    /// The visit's region: the convex hull of its detectors' corners, or the field's circle.
    public var visit: ConvexPolygon
    /// Each detector's region, by detector id.
    public var detectors: [Int: ConvexPolygon]

    /// The regions of a pointing of an instrument; nil when its definition has no focal plane.
    public init?(definition: InstrumentDefinition, ra: Double, dec: Double, rotation: Double) throws {
        guard let plane = definition.focalPlane else { return nil }
        let boresight = UnitVector(ra: ra, dec: dec)
        var detectors: [Int: ConvexPolygon] = [:]
        if plane.plate_scale != nil {
            for detector in definition.detectors {
                guard let corners = plane.corners(of: detector) else { continue }
                let sky = corners.compactMap { plane.direction(x: $0.x, y: $0.y, boresight: boresight, rotation: rotation) }
                guard sky.count == 4 else { continue }
                detectors[detector.id] = try ConvexPolygon.hull(of: sky)
            }
        }
        if !detectors.isEmpty {
            self.visit = try ConvexPolygon.hull(of: detectors.values.flatMap(\.vertices))
        } else if let radius = plane.field_radius, radius > 0, radius < 60 {
            // Without a layout, every detector sees the whole field.
            let field = try RegionIndex.polygon(around: boresight, radius: radius)
            self.visit = field
            for detector in definition.detectors { detectors[detector.id] = field }
        } else {
            return nil
        }
        self.detectors = detectors
    }
}
