import ArgumentParser
import Fleet
import Foundation
import Segmentation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Segment the output of `ingest run`: writes masks.npy and segmentation.json into each series directory.")

    @Argument(help: "A study directory (with study.json) or one series directory (with series.json).")
    var directory: String

    @OptionGroup var model: ModelArguments

    @Option(help: "Slices per batch.")
    var batchSize = 8

    func run() throws {
        let settings = try model.resolve()
        let stage = try SegmentationStage(modelDirectory: settings.modelsDirectory, threads: settings.threads,
                                          batchSize: batchSize)
        let url = URL(fileURLWithPath: directory)
        let isSeries = FileManager.default.fileExists(atPath: url.appendingPathComponent("series.json").path)
        let records = isSeries ? [try stage.run(seriesDirectory: url)] : try stage.run(studyDirectory: url)
        for record in records {
            print("segmented \(record.slices) slices (\(record.columns)×\(record.rows)) in \(String(format: "%.1f", record.seconds)) s")
        }
    }
}
