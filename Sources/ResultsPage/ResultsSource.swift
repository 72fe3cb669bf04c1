import Evaluation

/// What the results page shows, as read from the results database by a `ResultsSource`.
public struct PatientSummary: Sendable, Equatable {
    public let patientId: String
    public let probability: Double?
    public let typeCount: Int
    public let chunkCount: Int
    /// Why there is no probability.
    public let reason: String?
    /// Probability per MRI type (nil: the type produced no chunks).
    public let perType: [String: Double?]
    public let computedAt: String
    /// Where the 3D model ran for the patient: its probability (`resnet3d`) and the models' mean (`mean`), by
    /// prediction source name; empty otherwise. `probability` and `perType` are the 2D model's (`nfnet-lstm`).
    public let otherSources: [String: Double?]

    public init(patientId: String, probability: Double?, typeCount: Int, chunkCount: Int, reason: String?,
                perType: [String: Double?], computedAt: String, otherSources: [String: Double?] = [:]) {
        (self.patientId, self.probability, self.typeCount, self.chunkCount) = (patientId, probability, typeCount, chunkCount)
        (self.reason, self.perType, self.computedAt, self.otherSources) = (reason, perType, computedAt, otherSources)
    }
}

/// A series' result from the 3D model (`resnet3d`), where it runs on the series' MRI type.
public struct VolumeDetail: Sendable, Equatable {
    /// pending, classified or failed.
    public let status: String
    public let probability: Double?
    /// Why there is no probability, or the error that failed it.
    public let reason: String?

    public init(status: String, probability: Double?, reason: String?) {
        (self.status, self.probability, self.reason) = (status, probability, reason)
    }
}

public struct SeriesDetail: Sendable, Equatable {
    public let seriesUID: String
    public let mriType: String
    public let status: String
    public let slicesTotal: Int?
    public let slicesKept: Int?
    public let slicesSelected: Int?
    public let probability: Double?
    public let chunkProbabilities: [Double]
    /// Why there is no probability, or the error that failed the series.
    public let reason: String?
    public let hasPreview: Bool
    /// nil where the 3D model does not run.
    public let volume: VolumeDetail?

    public init(seriesUID: String, mriType: String, status: String, slicesTotal: Int?, slicesKept: Int?,
                slicesSelected: Int?, probability: Double?, chunkProbabilities: [Double], reason: String?, hasPreview: Bool,
                volume: VolumeDetail? = nil) {
        (self.seriesUID, self.mriType, self.status) = (seriesUID, mriType, status)
        (self.slicesTotal, self.slicesKept, self.slicesSelected) = (slicesTotal, slicesKept, slicesSelected)
        (self.probability, self.chunkProbabilities, self.reason, self.hasPreview) = (probability, chunkProbabilities, reason, hasPreview)
        self.volume = volume
    }
}

public struct PatientDetail: Sendable, Equatable {
    public let patientId: String
    /// nil while the patient's studies are still in flight.
    public let summary: PatientSummary?
    public let series: [SeriesDetail]

    public init(patientId: String, summary: PatientSummary?, series: [SeriesDetail]) {
        (self.patientId, self.summary, self.series) = (patientId, summary, series)
    }
}

public struct StudyInFlight: Sendable, Equatable {
    public let studyUID: String
    public let patientId: String
    public let receivedAt: String
    public let seriesCount: Int
    public let seriesFinished: Int
    /// "TYPE:stage" per series, e.g. "FLAIR:segmented T1w:ingested".
    public let seriesStages: String

    public init(studyUID: String, patientId: String, receivedAt: String, seriesCount: Int, seriesFinished: Int,
                seriesStages: String) {
        (self.studyUID, self.patientId, self.receivedAt) = (studyUID, patientId, receivedAt)
        (self.seriesCount, self.seriesFinished, self.seriesStages) = (seriesCount, seriesFinished, seriesStages)
    }
}

public struct FailureRecord: Sendable, Equatable {
    public let lastSeen: String
    public let kind: String
    public let stage: String
    public let patientId: String?
    public let seriesUID: String?
    public let reason: String

    public init(lastSeen: String, kind: String, stage: String, patientId: String?, seriesUID: String?, reason: String) {
        (self.lastSeen, self.kind, self.stage, self.patientId, self.seriesUID, self.reason) =
            (lastSeen, kind, stage, patientId, seriesUID, reason)
    }
}

public struct ResultsOverview: Sendable, Equatable {
    public let patients: [PatientSummary]
    public let studiesInFlight: [StudyInFlight]
    public let recentFailures: [FailureRecord]
    /// One per prediction source with results (the 2D model; the 3D model and the models' mean once it has
    /// results); empty until labels are loaded.
    public let evaluations: [EvaluationReport]

    public init(patients: [PatientSummary], studiesInFlight: [StudyInFlight], recentFailures: [FailureRecord],
                evaluations: [EvaluationReport]) {
        (self.patients, self.studiesInFlight, self.recentFailures, self.evaluations) =
            (patients, studiesInFlight, recentFailures, evaluations)
    }
}

/// Where the page reads from; implementations only read (the page never writes). Identifiers reaching these
/// methods have passed `ResultsPage.validIdentifier`.
public protocol ResultsSource: Sendable {
    func overview() async throws -> ResultsOverview
    /// nil for a patient the database does not know.
    func patient(_ patientId: String) async throws -> PatientDetail?
    /// The series' preview PNG; nil when there is none.
    func preview(seriesUID: String) async throws -> [UInt8]?
    /// As `ResultsOverview.evaluations`.
    func evaluations() async throws -> [EvaluationReport]
}
