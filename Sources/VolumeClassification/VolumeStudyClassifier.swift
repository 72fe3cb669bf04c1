import Domain
import Foundation
import SeriesFiles

/// One series as the 3D model reports it, offline (`cls-worker run --model resnet3d`) and in the fleet alike.
public struct VolumeSeriesClassification: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable {
        case classified
        /// No 3D weights for the type, or ingest kept no raw volume: no probability, with the reason.
        case skipped
    }

    public var mriType: String
    public var seriesInstanceUid: String
    public var status: Status
    /// The model's probability (float32's value as a double); nil when skipped.
    public var probability: Double?
    /// Slices in the volume the model saw.
    public var slices: Int?
    public var weightsSha256: String?
    public var reason: String?

    /// The fleet's report of a classified series.
    public var result: VolumeResult? {
        guard let probability, let weightsSha256, let slices else { return nil }
        return VolumeResult(weightsSha256: weightsSha256, probability: probability, slices: slices)
    }
}

/// The 3D model's patient document: per-series results and the patient probability (`Aggregation.patientScore`
/// over the classified series, each volume counting as one).
public struct VolumeStudyClassification: Codable, Equatable, Sendable {
    public var model = ClassifierModel.resnet3d
    public var patientId: String
    public var probability: Double?
    public var nTypes: Int
    public var series: [VolumeSeriesClassification]

    public init(patientId: String, series: [VolumeSeriesClassification]) {
        self.patientId = patientId
        self.series = series
        let score = Aggregation.patientScore(series.map {
            Aggregation.ScoredSeries(mriType: $0.mriType, probability: $0.probability, chunkCount: $0.probability == nil ? 0 : 1)
        })
        probability = score.probability
        nTypes = score.typeCount
    }

    public func jsonData() throws -> Data { try DocumentJSON.encoder.encode(self) }
}

/// Runs the 3D model of each series' MRI type from a model directory on series directories (`volume.npy` and
/// `series.json`), loading each type's weights once. One instance must not be used from two threads at once.
public final class VolumeStudyClassifier: @unchecked Sendable {
    public let modelsDirectory: URL
    public let threads: Int
    private var loaded: [MRIType: Classifier3D] = [:]

    public init(modelsDirectory: URL, threads: Int) {
        self.modelsDirectory = modelsDirectory
        self.threads = threads
    }

    /// Every series of a study directory (study.json), then the patient probability.
    public func run(studyDirectory: URL) throws -> VolumeStudyClassification {
        let study = StudyDirectory(studyDirectory)
        let metadata = try study.readMetadata()
        return VolumeStudyClassification(
            patientId: metadata.patientId, series: try metadata.series.map { try classify(study.series($0)) })
    }

    /// One series directory. A type without 3D weights, or a series without a raw volume, is skipped with the
    /// reason; a volume.npy that is missing although series.json records one, or unreadable, throws.
    public func classify(_ directory: SeriesDirectory) throws -> VolumeSeriesClassification {
        let metadata = try directory.readMetadata()
        var result = VolumeSeriesClassification(
            mriType: metadata.mriType.rawValue, seriesInstanceUid: metadata.seriesInstanceUid, status: .skipped)
        guard Classifier3D.weightsURL(modelsDirectory: modelsDirectory, mriType: metadata.mriType) != nil else {
            result.reason = "no \(Classifier3D.fileName(mriType: metadata.mriType)) in the model directory"
            return result
        }
        guard metadata.volume != nil else {
            result.reason = "ingest kept no volume.npy for this series (run ingest with the 3D model's directory)"
            return result
        }
        let volume = try directory.readRawVolume(metadata: metadata)
        let classifier = try classifier(metadata.mriType)
        result.status = .classified
        result.probability = Double(try classifier.probability(of: volume))
        result.slices = volume.slices
        result.weightsSha256 = classifier.weightsSha256
        return result
    }

    private func classifier(_ type: MRIType) throws -> Classifier3D {
        if let classifier = loaded[type] { return classifier }
        let classifier = try Classifier3D(modelsDirectory: modelsDirectory, mriType: type, threads: threads)
        loaded[type] = classifier
        return classifier
    }
}
