import ArgumentParser
import Classification
import Domain
import Fleet
import Foundation
import Inference
import Logging
import VolumeClassification

/// `cls-worker run DIR --models MODELS [--model resnet3d]`: the stage on one study directory, offline.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify every series of a study directory (the output of `seg-worker run`) and print the patient result.")

    @Argument(help: "Study directory holding study.json and one directory per series.")
    var directory: String

    @OptionGroup var models: ModelArguments

    @Option(help: "The classifier: nfnet-lstm (T4E's 2D model, reads the segmented series) or resnet3d (Borovec's 3D model, reads volume.npy).")
    var model: ClassifierModel = .nfnetLSTM

    @Option(help: "Test-time augmentation: zoom (T4E), none, or zoom+none.")
    var tta: String = TestTimeAugmentation.zoom.rawValue

    @Flag(help: "Print the JSON document instead of a summary.")
    var json = false

    func run() throws {
        guard let augmentation = TestTimeAugmentation(rawValue: tta) else {
            throw ValidationError("--tta must be one of \(TestTimeAugmentation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // Logs go to stderr (with --verbose): stdout carries the result document.
        let settings = try models.resolve()
        if model == .resnet3d { return try runVolumeModel(modelsDirectory: settings.modelsDirectory, threads: settings.threads) }
        let threadCount = settings.threads
        let logger = Logger(label: "cls-worker")
        logger.info("classifying", metadata: ["directory": "\(directory)", "tta": "\(augmentation.rawValue)",
                                              "threads": "\(threadCount)", "openblas_core": "\(BLAS.coreName)"])
        let patient = try StudyClassifier(modelsDirectory: settings.modelsDirectory, augmentation: augmentation,
                                          threads: threadCount)
            .run(studyDirectory: URL(fileURLWithPath: directory))
        for series in patient.series {
            logger.info("series classified", metadata: [
                "mri_type": "\(series.mriType)", "status": "\(series.status.rawValue)", "kept": "\(series.kept.count)",
                "chunks": "\(series.chunks.count)", "probability": "\(series.probability.map { "\($0)" } ?? "none")",
                "weights_sha256": "\(series.weightsSha256 ?? "none")",
            ])
        }
        if json {
            print(String(decoding: try patient.jsonData(), as: UTF8.self))
        } else {
            for series in patient.series {
                let probability = series.probability.map { String(format: "%.4f", $0) } ?? "-"
                print("\(series.mriType)\t\(series.status.rawValue)\tkept \(series.kept.count)\tchunks \(series.chunks.count)\tp \(probability)")
            }
            let probability = patient.probability.map { String(format: "%.4f", $0) } ?? "- (\(patient.reason ?? ""))"
            print("patient \(patient.patientId)\tp \(probability)")
        }
    }

    /// The 3D model on every series' volume.npy: per-type and patient probabilities.
    private func runVolumeModel(modelsDirectory: URL, threads: Int) throws {
        let patient = try VolumeStudyClassifier(modelsDirectory: modelsDirectory, threads: threads)
            .run(studyDirectory: URL(fileURLWithPath: directory))
        if json {
            print(String(decoding: try patient.jsonData(), as: UTF8.self))
            return
        }
        for series in patient.series {
            let probability = series.probability.map { String(format: "%.4f", $0) } ?? "- (\(series.reason ?? ""))"
            print("\(series.mriType)\t\(series.status.rawValue)\tslices \(series.slices ?? 0)\tp \(probability)")
        }
        print("patient \(patient.patientId)\t\(ClassifierModel.resnet3d.rawValue)\tp \(patient.probability.map { String(format: "%.4f", $0) } ?? "-")")
    }
}

extension ClassifierModel: ExpressibleByArgument {}
