import ArgumentParser
import Domain
import Foundation
import Ingestion
import SeriesFiles

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
        var seriesMetadata = [SeriesMetadata]()  // the arrays are dropped as soon as each series is built
        let studyMetadata = try stage.ingestor().ingest(study: URL(fileURLWithPath: study)) { _, series in
            seriesMetadata.append(series.metadata)
        }
        if json {
            let report = Report(study: studyMetadata, series: seriesMetadata)
            print(String(decoding: try DocumentJSON.encoder.encode(report), as: UTF8.self))
            return
        }
        print("study \(studyMetadata.studyInstanceUid)  patient \(studyMetadata.patientId)  "
              + "\(seriesMetadata.count) series")
        for series in seriesMetadata {
            let order = series.orderCheck
            let spacing = order.spacing.map { String(format: ", spacing %.2f mm", $0) } ?? ""
            let folder = series.sourceFolder.isEmpty ? "." : series.sourceFolder
            print("\(series.mriType.rawValue) (from \(series.mriTypeSource), folder \(folder))  "
                  + "series \(series.seriesInstanceUid)  '\(series.seriesDescription)'")
            print("  size \(series.rows)x\(series.columns)  slices \(series.slicesTotal) total, "
                  + "\(series.slicesNonempty) non-empty, \(series.slices) stored")
            print("  order by \(order.method.rawValue): \(order.status.rawValue)\(spacing)"
                  + (order.detail.map { " (\($0))" } ?? ""))
            print("  intensity \(series.intensity.min) … \(series.intensity.max)")
            print("  transfer syntax \(series.transferSyntaxes.map(\.name).joined(separator: "; "))")
        }
        if !studyMetadata.errors.isEmpty {
            print("errors (\(studyMetadata.errors.count)):")
            for issue in studyMetadata.errors { print("  \(issue)") }
        }
        if !studyMetadata.warnings.isEmpty {
            print("warnings (\(studyMetadata.warnings.count)):")
            for issue in studyMetadata.warnings { print("  \(issue)") }
        }
    }
}
