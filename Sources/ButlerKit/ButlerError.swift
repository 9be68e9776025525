/// An error from ButlerKit: a code to match on and a one-line message that names the thing and the reason.
///
/// ```swift
/// do {
///     try butler.registerDatasetType(type)
/// } catch ButlerError.conflict {
///     // an existing dataset type with a different definition
/// }
/// ```
public struct ButlerError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added without breaking clients.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        internal enum Storage: String, Sendable {
            case notARepository, invalidConfig, alreadyExists, notFound, conflict, invalidName, invalidValue,
                 schemaTooNew, cycle, inUse, database, io, readOnly, integrity
        }
        internal let storage: Storage

        /// The path is not a butler repository (no readable `butler.yaml`).
        public static var notARepository: Self { Self(storage: .notARepository) }
        /// A configuration file is malformed or holds an invalid value.
        public static var invalidConfig: Self { Self(storage: .invalidConfig) }
        /// The thing to create exists already.
        public static var alreadyExists: Self { Self(storage: .alreadyExists) }
        /// A named thing (collection, dataset type, dimension record, ...) does not exist.
        public static var notFound: Self { Self(storage: .notFound) }
        /// The request contradicts what the registry holds (different definition, duplicate data ID, ...).
        public static var conflict: Self { Self(storage: .conflict) }
        /// A name breaks the naming rules.
        public static var invalidName: Self { Self(storage: .invalidName) }
        /// A value is malformed or has the wrong type.
        public static var invalidValue: Self { Self(storage: .invalidValue) }
        /// The registry was written by a newer butler than this one.
        public static var schemaTooNew: Self { Self(storage: .schemaTooNew) }
        /// A CHAINED collection would contain itself.
        public static var cycle: Self { Self(storage: .cycle) }
        /// The thing is still used by another (a collection in a chain, a dataset type with datasets, ...).
        public static var inUse: Self { Self(storage: .inUse) }
        /// A file does not match the size or checksum recorded for it.
        public static var integrity: Self { Self(storage: .integrity) }
        /// The database engine failed.
        public static var database: Self { Self(storage: .database) }
        /// A file could not be read or written.
        public static var io: Self { Self(storage: .io) }
        /// The repository may only be read by this process (a read-only mount, files of another user).
        public static var readOnly: Self { Self(storage: .readOnly) }

        public var description: String { storage.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// A one-line explanation that names the thing and the reason.
    public let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension ButlerError.Code {
    /// Lets callers write `catch ButlerError.conflict`.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? ButlerError)?.code == code
    }
}

extension ButlerError {
    // The codes again on ButlerError itself, so that `catch ButlerError.conflict` reads as English.
    public static var notARepository: Code { .notARepository }
    public static var invalidConfig: Code { .invalidConfig }
    public static var alreadyExists: Code { .alreadyExists }
    public static var notFound: Code { .notFound }
    public static var conflict: Code { .conflict }
    public static var invalidName: Code { .invalidName }
    public static var invalidValue: Code { .invalidValue }
    public static var schemaTooNew: Code { .schemaTooNew }
    public static var cycle: Code { .cycle }
    public static var inUse: Code { .inUse }
    public static var database: Code { .database }
    public static var io: Code { .io }
    public static var readOnly: Code { .readOnly }
}
