import Evaluation
import Foundation
import Logging
import Pictures
import ResultsPage
import XCTest

/// The page served by Hummingbird on a free loopback port, fetched with curl (a real HTTP client), from a source
/// with fixed contents. The fleet-backed page is tested in a browser in FleetTests.
final class ResultsPageTests: XCTestCase {
    struct FixedSource: ResultsSource {
        var failing = false
        static let preview: [UInt8] = try! PNG.encode(RGBImage(width: 4, height: 3, fill: .init(0, 255, 0)))
        static let patient = PatientSummary(patientId: "00012", probability: 0.625, typeCount: 2, chunkCount: 5,
                                            reason: nil, perType: ["FLAIR": 0.75, "T2w": 0.5], computedAt: "2026-11-27 12:00")
        static let hostile = PatientSummary(patientId: "00013", probability: nil, typeCount: 0, chunkCount: 0,
                                            reason: "<script>alert('x')</script> & \"more\"", perType: ["FLAIR": nil],
                                            computedAt: "2026-11-27 12:01")

        func overview() async throws -> ResultsOverview {
            if failing { throw CocoaError(.fileReadUnknown) }
            return ResultsOverview(
                patients: [Self.patient, Self.hostile],
                studiesInFlight: [StudyInFlight(studyUID: "1.2.3", patientId: "00014", receivedAt: "2026-11-27 12:02",
                                                seriesCount: 4, seriesFinished: 1, seriesStages: "FLAIR:classified T1w:segmented")],
                recentFailures: [FailureRecord(lastSeen: "2026-11-27 12:03", kind: "failed", stage: "ingest", patientId: "00015",
                                               seriesUID: nil, reason: "mixed slice sizes <64x64>")],
                evaluations: try await evaluations())
        }

        func patient(_ patientId: String) async throws -> PatientDetail? {
            if failing { throw CocoaError(.fileReadUnknown) }
            guard patientId == "00012" else { return nil }
            return PatientDetail(patientId: patientId, summary: Self.patient, series: [
                SeriesDetail(seriesUID: "1.2.3.4", mriType: "FLAIR", status: "classified", slicesTotal: 24, slicesKept: 20,
                             slicesSelected: 9, probability: 0.75, chunkProbabilities: [0.7, 0.8], reason: nil, hasPreview: true),
                SeriesDetail(seriesUID: "1.2.3.5", mriType: "T2w", status: "failed", slicesTotal: nil, slicesKept: nil,
                             slicesSelected: nil, probability: nil, chunkProbabilities: [], reason: "bad DICOM", hasPreview: false),
            ])
        }

        func preview(seriesUID: String) async throws -> [UInt8]? { seriesUID == "1.2.3.4" ? Self.preview : nil }

        func evaluations() async throws -> [EvaluationReport] {
            let labels = try Labels(csv: "BraTS21ID,MGMT_value\n12,1\n13,0\n16,0\n")
            return try [EvaluationReport(
                labels: labels, predictionSource: "nfnet-lstm",
                patientPredictions: [Prediction(patient: PatientKey("00012"), probability: 0.625),
                                     Prediction(patient: PatientKey("00013"), probability: nil),
                                     Prediction(patient: PatientKey("00016"), probability: 0.2)],
                perType: [:])]
        }
    }

    func testPagesStatusesAndEscaping() async throws {
        try await withServer(FixedSource()) { base in
            let (status, page) = try fetch(base + "/")
            XCTAssertEqual(status, 200)
            let text = String(decoding: page, as: UTF8.self)
            XCTAssertTrue(text.contains("<a href=\"/patients/00012\">00012</a></td><td class=\"num\">0.625</td><td class=\"num\">0.750</td><td class=\"num\">0.500</td>"), text)
            XCTAssertTrue(text.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"))
            XCTAssertFalse(text.contains("<script"))
            XCTAssertTrue(text.contains("FLAIR:classified T1w:segmented"))
            XCTAssertTrue(text.contains("mixed slice sizes &lt;64x64&gt;"))
            XCTAssertTrue(text.contains("<img id=\"roc-nfnet-lstm\" src=\"/evaluation/nfnet-lstm/roc.png\""), text)
            XCTAssertFalse(text.contains("resnet3d"), "no 3D columns where the 3D model has no results")

            let (patientStatus, patientPage) = try fetch(base + "/patients/00012")
            XCTAssertEqual(patientStatus, 200)
            let patientText = String(decoding: patientPage, as: UTF8.self)
            XCTAssertTrue(patientText.contains("src=\"/series/1.2.3.4/preview.png\""))
            XCTAssertFalse(patientText.contains("/series/1.2.3.5/preview.png"))
            XCTAssertTrue(patientText.contains("bad DICOM"))

            let (previewStatus, preview) = try fetch(base + "/series/1.2.3.4/preview.png")
            XCTAssertEqual(previewStatus, 200)
            XCTAssertEqual(preview, FixedSource.preview)
            let (rocStatus, roc) = try fetch(base + "/evaluation/nfnet-lstm/roc.png")
            XCTAssertEqual(rocStatus, 200)
            XCTAssertEqual(try PNG.decode(roc).width, ROCPlot.size)
            XCTAssertEqual(try fetch(base + "/evaluation/resnet3d/roc.png").status, 404, "no evaluation of the 3D model here")

            // Bad input: 400 for what cannot be an identifier, 404 for what is unknown; never 500.
            for (path, expected) in [("/patients/99999", 404), ("/patients/1'%3B%20DROP%20TABLE%20studies--", 400),
                                     ("/patients/%27%20OR%201%3D1", 400), ("/patients/%zz", 400),
                                     ("/series/..%2F..%2Fetc%2Fpasswd/preview.png", 400), ("/series/1.2.3.9/preview.png", 404),
                                     ("/patients/" + String(repeating: "9", count: 65), 400), ("/nowhere", 404)] {
                XCTAssertEqual(try fetch(base + path).status, expected, path)
            }
        }
    }

    /// Where the 3D model has results: its probability and the models' mean beside the 2D one, per patient and per
    /// series, and an evaluation per prediction source with its own ROC picture.
    struct TwoModelSource: ResultsSource {
        static let patient = PatientSummary(patientId: "00012", probability: 0.625, typeCount: 1, chunkCount: 2,
                                            reason: nil, perType: ["FLAIR": 0.625], computedAt: "2026-11-27 12:00",
                                            otherSources: ["resnet3d": 0.875, "mean": 0.75])
        static let twoDOnly = PatientSummary(patientId: "00016", probability: 0.25, typeCount: 1, chunkCount: 1,
                                             reason: nil, perType: ["FLAIR": 0.25], computedAt: "2026-11-27 12:00")

        func overview() async throws -> ResultsOverview {
            ResultsOverview(patients: [Self.patient, Self.twoDOnly], studiesInFlight: [], recentFailures: [],
                            evaluations: try await evaluations())
        }

        func patient(_ patientId: String) async throws -> PatientDetail? {
            PatientDetail(patientId: patientId, summary: Self.patient, series: [
                SeriesDetail(seriesUID: "1.2.3.4", mriType: "FLAIR", status: "classified", slicesTotal: 24, slicesKept: 20,
                             slicesSelected: 9, probability: 0.625, chunkProbabilities: [0.5, 0.75], reason: nil, hasPreview: false,
                             volume: VolumeDetail(status: "classified", probability: 0.875, reason: nil)),
                SeriesDetail(seriesUID: "1.2.3.5", mriType: "T2w", status: "classified", slicesTotal: 24, slicesKept: 20,
                             slicesSelected: 0, probability: nil, chunkProbabilities: [], reason: "no tumour slices",
                             hasPreview: false, volume: VolumeDetail(status: "failed", probability: nil, reason: "volume <missing>")),
            ])
        }

        func preview(seriesUID: String) async throws -> [UInt8]? { nil }

        func evaluations() async throws -> [EvaluationReport] {
            let labels = try Labels(csv: "BraTS21ID,MGMT_value\n12,1\n16,0\n")
            return try [("nfnet-lstm", 0.625), ("resnet3d", 0.875), ("mean", 0.75)].map { source, p in
                try EvaluationReport(labels: labels, predictionSource: source,
                                     patientPredictions: [Prediction(patient: PatientKey("00012"), probability: p),
                                                          Prediction(patient: PatientKey("00016"), probability: 0.25)],
                                     perType: [:])
            }
        }
    }

    func testBothModelsSideBySideWithAnEvaluationEach() async throws {
        try await withServer(TwoModelSource()) { base in
            let text = String(decoding: try fetch(base + "/").body, as: UTF8.self)
            XCTAssertTrue(text.contains("<th>nfnet-lstm</th><th>resnet3d</th><th>mean</th><th>FLAIR</th>"), text)
            XCTAssertTrue(text.contains("00012</a></td><td class=\"num\">0.625</td><td class=\"num\">0.875</td>"
                                        + "<td class=\"num\">0.750</td><td class=\"num\">0.625</td>"), text)
            XCTAssertTrue(text.contains("00016</a></td><td class=\"num\">0.250</td><td class=\"num\">–</td>"
                                        + "<td class=\"num\">–</td><td class=\"num\">0.250</td>"), text)
            for source in ["nfnet-lstm", "resnet3d", "mean"] {
                XCTAssertTrue(text.contains("<h3>Predictions: \(source)</h3>"), source)
                XCTAssertTrue(text.contains("<img id=\"roc-\(source)\" src=\"/evaluation/\(source)/roc.png\""), source)
                let (status, roc) = try fetch(base + "/evaluation/\(source)/roc.png")
                XCTAssertEqual(status, 200, source)
                XCTAssertEqual(try PNG.decode(roc).width, ROCPlot.size)
            }
            XCTAssertEqual(try fetch(base + "/evaluation/nobody/roc.png").status, 404)

            let patient = String(decoding: try fetch(base + "/patients/00012").body, as: UTF8.self)
            XCTAssertTrue(patient.contains("Probability (nfnet-lstm) 0.625 over 1 type(s), 2 chunk(s); resnet3d 0.875; "
                                           + "mean of the models 0.750."), patient)
            XCTAssertTrue(patient.contains("<th>resnet3d stage</th><th>resnet3d</th><th>resnet3d reason</th>"), patient)
            XCTAssertTrue(patient.contains("<td>classified</td><td class=\"num\">0.875</td><td></td>"), patient)
            XCTAssertTrue(patient.contains("<td>failed</td><td class=\"num\">–</td><td>volume &lt;missing&gt;</td>"), patient)
        }
    }

    func testUnreadableDatabaseIsServiceUnavailable() async throws {
        try await withServer(FixedSource(failing: true)) { base in
            XCTAssertEqual(try fetch(base + "/").status, 503)
            XCTAssertEqual(try fetch(base + "/patients/00012").status, 503)
        }
    }

    private func withServer(_ source: some ResultsSource, _ body: (String) async throws -> Void) async throws {
        let port = PortBox()
        let server = Task {
            try await ResultsPage.serve(source: source, host: "127.0.0.1", port: 0, logger: Logger(label: "test")) {
                await port.set($0)
            }
        }
        var bound: Int?
        for _ in 0..<200 where bound == nil {
            bound = await port.value
            if bound == nil { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        do {
            try await body("http://127.0.0.1:\(try XCTUnwrap(bound))")
        } catch {
            server.cancel()
            throw error
        }
        server.cancel()
        _ = await server.result
    }

    private actor PortBox {
        var value: Int?
        func set(_ port: Int) { value = port }
    }

    /// Status and body as curl receives them (`--path-as-is` so that `..` reaches the server unchanged).
    private func fetch(_ url: String) throws -> (status: Int, body: [UInt8]) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("page-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--path-as-is", "--max-time", "20", "-o", output.path, "-w", "%{http_code}", url]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let code = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (Int(code) ?? -1, [UInt8]((try? Data(contentsOf: output)) ?? Data()))
    }
}
