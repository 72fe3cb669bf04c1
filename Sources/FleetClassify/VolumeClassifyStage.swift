import Domain
import Fleet
import Foundation
import SeriesFiles
import VolumeClassification

/// The cls-worker's stage in `--model resnet3d` mode: a series' raw volume in (a `classify3d` job from ingest), the
/// 3D model of its MRI type run by the same `VolumeStudyClassifier` as `cls-worker run --model resnet3d`, a
/// `classified` event with the model, its probability and weights' sha256. Every failure (a job without its
/// inputs, a missing artifact, no 3D weights, a model error) is permanent: the series' 3D status fails with it.
public final class VolumeClassifyStage: Stage, @unchecked Sendable {
    public typealias Job = VolumeClassifyJob
    public let name = VolumeClassifyJob.messageKind
    private let classifier: VolumeStudyClassifier

    public init(modelsDirectory: URL, threads: Int) {
        classifier = VolumeStudyClassifier(modelsDirectory: modelsDirectory, threads: threads)
    }

    public func consumedQueues(_ names: QueueNames) -> [String] { [names.classify3d] }

    public func run(_ job: VolumeClassifyJob, context: StageContext) throws -> [Publication] {
        let directory = try context.materializeSeriesInputs(
            job.inputs, required: SeriesDirectory.File.volumeClassifierInputs.map(\.name),
            jobKind: VolumeClassifyJob.messageKind)
        let classification: VolumeSeriesClassification
        do {
            classification = try classifier.classify(SeriesDirectory(directory))
        } catch {
            throw StageFailure.permanent("3D classification failed: \(error)")
        }
        guard let result = classification.result else {
            throw StageFailure.permanent("3D classification skipped: \(classification.reason ?? "no result")")
        }
        context.logger.info("series classified", metadata: [
            "model": "\(ClassifierModel.resnet3d.rawValue)", "mri_type": "\(job.series.mriType)",
            "slices": "\(result.slices)"])
        return [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .volumeClassified(job.series, result)))]
    }

    public func failurePublications(for job: VolumeClassifyJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .failed(.series(job.series), error: reason)))]
    }
}
