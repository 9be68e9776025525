public import Foundation

/// A dataset in the registry: its id, type, RUN and data ID.
public struct DatasetRef: Sendable, Hashable {
    /// The dataset id (a UUID, computed as Rubin does; see ``DatasetIdGenerationMode``).
    public let id: UUID
    /// Its dataset type.
    public let datasetType: DatasetType
    /// The RUN collection it belongs to.
    public let run: String
    /// Its data ID.
    public let dataId: DataCoordinate

    package init(id: UUID, datasetType: DatasetType, run: String, dataId: DataCoordinate) {
        self.id = id
        self.datasetType = datasetType
        self.run = run.normalizedName
        self.dataId = dataId
    }
}
