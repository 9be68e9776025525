import Foundation

extension RepositoryIdentity {
    /// `name (id)`, how a repository is named in text output.
    public var label: String { "\(name.isEmpty ? "unnamed repository" : name) (\(id.lowercasedString))" }
}

extension DatasetCopy {
    /// When it was copied, in UTC.
    public var copiedTime: TAITime { TAITime(nanoseconds: copiedAt) }

    /// One line for people: `copied from NAME (ID) on DATE by USER via METHOD, checksum verified`.
    public var sentence: String {
        var text = "copied from " + (sourceRepository?.label ?? "a repository of unknown identity")
        text += " on \(copiedTime.isoUTC)"
        if let copiedBy { text += " by \(copiedBy)" }
        text += " via \(method.isEmpty ? "an unknown method" : method)"
        text += verifiedChecksum == nil ? ", checksum not verified" : ", checksum verified"
        return text
    }
}
