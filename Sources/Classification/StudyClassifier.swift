import ArrayFiles
import Domain
import Foundation
import Inference
import SeriesFiles

/// A classifier weights file, loaded, with the SHA-256 of its bytes.
public struct ClassifierWeights: Sendable {
    public let model: SequenceClassifier
    public let sha256: String

    /// `classifier-<MRI type>.safetensors`, the name in a model directory.
    public static func fileName(mriType: MRIType) -> String { ClassifierModel.nfnetLSTM.weightsFileName(mriType) }

    public init(contentsOf url: URL) throws {
        LargeBlocks.returnToTheSystemWhenFreed()
        let file = try SafeTensorsFile(contentsOf: url)
        sha256 = file.sha256
        model = try SequenceClassifier(file: file)
    }
}

/// The classifier stage over a study directory (after `ingest run` and `seg-worker run`): every series with
/// the model of its MRI type from the model directory; writes each series' `classification.json` and returns
/// the patient document.
public struct StudyClassifier: Sendable {
    public let modelsDirectory: URL
    public var augmentation: TestTimeAugmentation
    public var threads: Int
    /// See `SeriesClassifier.reuseEmbeddings`.
    public var reuseEmbeddings: Bool

    public init(modelsDirectory: URL, augmentation: TestTimeAugmentation = .zoom, threads: Int = 1, reuseEmbeddings: Bool = true) {
        self.modelsDirectory = modelsDirectory
        self.augmentation = augmentation
        self.threads = threads
        self.reuseEmbeddings = reuseEmbeddings
    }

    public func run(studyDirectory: URL) throws -> PatientClassification {
        let studyFiles = StudyDirectory(studyDirectory)
        let study: StudyMetadata
        do {
            study = try studyFiles.readMetadata()
        } catch {
            throw ClassificationError.unreadable(
                path: studyDirectory.appendingPathComponent(StudyDirectory.metadataFileName).path,
                reason: String(describing: error))
        }
        // One model in memory at a time (each is ~100 MB): a study has one series per MRI type as a rule, so
        // keeping every type's model would only hold them until the study ends.
        var loaded: (type: MRIType, weights: ClassifierWeights)?
        var results: [SeriesClassification] = []
        for entry in study.series {
            let directory = studyFiles.series(entry)
            let weightsURL = modelsDirectory.appendingPathComponent(ClassifierWeights.fileName(mriType: entry.mriType))
            let result: SeriesClassification
            if !FileManager.default.fileExists(atPath: weightsURL.path) {
                result = try SeriesClassification.skipped(directory.url, missingWeights: weightsURL)
            } else {
                if loaded?.type != entry.mriType {
                    loaded = nil  // released before the next one loads
                    loaded = (entry.mriType, try ClassifierWeights(contentsOf: weightsURL))
                }
                let weights = loaded!.weights
                let classifier = SeriesClassifier(model: weights.model, weightsSha256: weights.sha256,
                                                  augmentation: augmentation, threads: threads, reuseEmbeddings: reuseEmbeddings)
                result = try classifier.classify(SeriesInput(directory: directory.url))
            }
            try directory.writeDocument(result, as: .classification)
            results.append(result)
        }
        return PatientClassification(patientId: study.patientId, series: results)
    }
}
