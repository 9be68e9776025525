internal import CFITSIO

/// Facts about the CFITSIO library this build links against.
public enum FITSLibrary {
    /// The CFITSIO version, for example `4.02` for 4.2.0.
    ///
    /// The corresponding CFITSIO routine is `ffvers`.
    public static var version: Float { cfitsio_version() }

    /// Whether CFITSIO was built reentrant, so that separate threads may each open their own files.
    ///
    /// The corresponding CFITSIO routine is `fits_is_reentrant`.
    public static var isReentrant: Bool { fits_is_reentrant() != 0 }
}
