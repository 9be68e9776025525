package import Foundation

// Placeholder until the copy-record table lands (helper h3 replaces this file).
extension Registry {
    package func insertCopies(_ copies: [DatasetCopy], in c: any SQLConnection) throws {}
    package func copies(of ids: [UUID], in c: any SQLConnection) throws -> [DatasetCopy] { [] }
}

extension Butler {
    package func repositoryIdentity() throws -> RepositoryIdentity? { nil }
}
