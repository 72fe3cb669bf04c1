import ArgumentParser
import Classification
import Fleet
import Foundation
import Inference
import Logging

/// `cls-worker run DIR --models MODELS`: the stage on one study directory, offline.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify every series of a study directory (the output of `seg-worker run`) and print the patient result.")

    @Argument(help: "Study directory holding study.json and one directory per series.")
    var directory: String

    @OptionGroup var model: ModelArguments

    @Option(help: "Test-time augmentation: zoom (T4E), none, or zoom+none.")
    var tta: String = TestTimeAugmentation.zoom.rawValue

    @Flag(help: "Print the JSON document instead of a summary.")
    var json = false

    func run() throws {
        guard let augmentation = TestTimeAugmentation(rawValue: tta) else {
            throw ValidationError("--tta must be one of \(TestTimeAugmentation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // Logs go to stderr (with --verbose): stdout carries the result document.
        let settings = try model.resolve()
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
                "weights_sha256": "\(series.weightsSHA256 ?? "none")",
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
            print("patient \(patient.patientID)\tp \(probability)")
        }
    }
}
