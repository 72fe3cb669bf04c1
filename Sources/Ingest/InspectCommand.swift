import ArgumentParser
import Foundation
import Ingestion

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Report what ingest makes of STUDY, per series, without writing anything.")

    @Argument(help: "Study folder (one sub-folder per series).")
    var study: String

    @Flag(help: "Print JSON: {\"study\": <study.json>, \"series\": [<series.json>, ...]}.")
    var json = false

    @OptionGroup var stage: StageArguments

    struct Report: Encodable {
        var study: StudyMetadata
        var series: [SeriesMetadata]
    }

    func run() throws {
        let result = try stage.ingestor().ingest(study: URL(fileURLWithPath: study))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let report = Report(study: result.metadata, series: result.series.map(\.metadata))
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("study \(result.metadata.studyInstanceUID)  patient \(result.metadata.patientID)  "
              + "\(result.series.count) series")
        for series in result.series.map(\.metadata) {
            let order = series.orderCheck
            let spacing = order.spacing.map { String(format: ", spacing %.2f mm", $0) } ?? ""
            let folder = series.sourceFolder.isEmpty ? "." : series.sourceFolder
            print("\(series.mriType.rawValue) (from \(series.mriTypeSource), folder \(folder))  "
                  + "series \(series.seriesInstanceUID)  '\(series.seriesDescription)'")
            print("  size \(series.rows)x\(series.columns)  slices \(series.slicesTotal) total, "
                  + "\(series.slicesNonempty) non-empty, \(series.slices) stored")
            print("  order by \(order.method.rawValue): \(order.status.rawValue)\(spacing)"
                  + (order.detail.map { " (\($0))" } ?? ""))
            print("  intensity \(series.intensity.min) … \(series.intensity.max)")
            print("  transfer syntax \(series.transferSyntaxes.map(\.name).joined(separator: ", "))")
            for issue in series.errors { print("  error: \(issue)") }
        }
        if !result.metadata.errors.isEmpty {
            print("errors (\(result.metadata.errors.count)):")
            for issue in result.metadata.errors { print("  \(issue)") }
        }
        if !result.metadata.warnings.isEmpty {
            print("warnings (\(result.metadata.warnings.count)):")
            for issue in result.metadata.warnings { print("  \(issue)") }
        }
    }
}
