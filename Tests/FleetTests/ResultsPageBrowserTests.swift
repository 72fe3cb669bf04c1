import ArrayFiles
import Evaluation
import Fleet
import FleetIngest
import FleetSegment
import Foundation
import Imaging
import Pictures
import ResultsStore
import XCTest

/// The results for people, from a running fleet: `reporter labels load` and `evaluate`, the preview the
/// cls-worker stored (`reporter preview`), and `reporter serve` loaded in headless Chromium (Debian's package).
extension FleetEndToEndTests {
    func testResultsPageInChromiumShowsThePatientAndItsPreview() throws {
        let export = try Self.fixtures.export("page", patients: ["00700"], slices: 10)
        let cluster = try startFleet()
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        _ = try cluster.waitForRows(timeout: 240, {
            try $0.connection.execute("SELECT count(*) AS n FROM studies WHERE status = 'done'").rows[0].int("n")
        }, until: { $0 == 1 })

        // Labels: one for the patient the fleet saw (zero padding dropped), one for a patient it never saw.
        let labels = cluster.root.appendingPathComponent("labels.csv")
        try Data("BraTS21ID,MGMT_value\n700,1\n00701,0\n".utf8).write(to: labels)
        let load = try cluster.runToCompletion("reporter", ["labels", "load", labels.path])
        XCTAssertEqual(load.status, 0, load.output)
        let evaluate = try cluster.runToCompletion("reporter", ["evaluate", "--labels", labels.path])
        XCTAssertEqual(evaluate.status, 0, evaluate.output)
        XCTAssertTrue(evaluate.output.contains("patient: labelled without prediction: 701"), evaluate.output)

        // The FLAIR preview from the store: its outline pixels lie on the boundaries of the masks the seg-worker stored.
        let tables = try cluster.tables()
        let series = try tables.connection.execute("""
            SELECT series_instance_uid, segmentation_weights_sha256, preview_key FROM series WHERE mri_type = 'FLAIR'
            """).rows[0]
        let uid = try series.string("series_instance_uid")
        XCTAssertNotNil(try series.optionalValue("preview_key", as: String.self))
        let previewFile = cluster.root.appendingPathComponent("preview.png")
        let preview = try cluster.runToCompletion("reporter", ["preview", uid, "--out", previewFile.path])
        XCTAssertEqual(preview.status, 0, preview.output)
        try assertOutlinesOnMaskBoundaries(try PNG.decode([UInt8](try Data(contentsOf: previewFile))), cluster: cluster,
                                           seriesUID: uid, segmentationWeights: try series.string("segmentation_weights_sha256"))
        XCTAssertNotEqual(try cluster.runToCompletion("reporter", ["preview", "1.2.3.999", "--out", previewFile.path]).status, 0)

        // The page, served read-only on a free loopback port.
        try cluster.start("reporter", name: "page", arguments: ["serve"], extra: ["MGMT_RESULTS_PORT": "0"])
        let base = try waitForPageAddress(cluster)
        let overview = try chromium(["--dump-dom", base + "/"])
        XCTAssertTrue(overview.contains("<a href=\"/patients/00700\">00700</a>"), overview)
        let probability = try XCTUnwrap(try tables.patientPredictions().first?.probability)
        XCTAssertTrue(overview.contains("<td class=\"num\">\(EvaluationReport.format(probability))</td>"), overview)
        XCTAssertTrue(overview.contains("<img id=\"roc-nfnet-lstm\" src=\"/evaluation/nfnet-lstm/roc.png\""), overview)
        let detail = try chromium(["--dump-dom", base + "/patients/00700"])
        XCTAssertTrue(detail.contains("src=\"/series/\(uid)/preview.png\""), detail)

        // The screenshot shows the preview: its background and its chunk bars are colours the page's own style
        // never uses, so they are on screen only if the browser loaded and drew the PNG.
        let screenshot = cluster.root.appendingPathComponent("page.png")
        _ = try chromium(["--screenshot=\(screenshot.path)", "--window-size=1000,1600", base + "/patients/00700"])
        let shot = try PNG.decode([UInt8](try Data(contentsOf: screenshot)))
        var counts: [RGBImage.Color: Int] = [:]
        for y in 0..<shot.height { for x in 0..<shot.width { counts[shot[x, y], default: 0] += 1 } }
        XCTAssertGreaterThan(counts[SeriesPreview.backgroundColor] ?? 0, 500, "preview background on screen")
        XCTAssertGreaterThan(counts[SeriesPreview.barColor] ?? 0, 20, "chunk bars on screen")
        let kept = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-results-page.png")
        try? FileManager.default.removeItem(at: kept)
        try FileManager.default.copyItem(at: screenshot, to: kept)
        print("results page screenshot: \(kept.path)")

        // Bad input answers 400/404, never 500.
        for (path, expected) in [("/patients/99999", 404), ("/patients/1'%3B%20DROP%20TABLE%20studies--", 400),
                                 ("/series/..%2F..%2Fetc%2Fpasswd/preview.png", 400), ("/series/1.2.3.999/preview.png", 404)] {
            let (status, output) = try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/curl"),
                                                          ["-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", base + path])
            XCTAssertEqual(status, 0)
            XCTAssertEqual(output, "\(expected)", path)
        }
    }

    private func assertOutlinesOnMaskBoundaries(_ picture: RGBImage, cluster: FleetCluster, seriesUID: String,
                                                segmentationWeights: String) throws {
        let store = cluster.root.appendingPathComponent("store")
        let slices = try NpyArray(contentsOf: store.appendingPathComponent(
            IngestStage.artifactPrefix(seriesInstanceUid: seriesUID) + "/image_uint8.npy")).byteImages()
        let masks = try NpyArray(contentsOf: store.appendingPathComponent(
            SegmentStage.artifactPrefix(seriesInstanceUid: seriesUID, weightsSha256: segmentationWeights) + "/masks.npy"))
            .byteImages()
        XCTAssertEqual(masks.count, 2 * slices.count)
        let layout = try SeriesPreview(
            slices: slices.indices.map { .init(image: slices[$0], wholeTumour: masks[2 * $0], enhancing: masks[2 * $0 + 1], kept: false) },
            chunkProbabilities: []).layout
        var outline = 0
        for index in slices.indices {
            let wt = SeriesPreview.boundary(of: masks[2 * index], step: layout.step)
            let et = SeriesPreview.boundary(of: masks[2 * index + 1], step: layout.step)
            let origin = layout.origin(of: index)
            for y in 0..<layout.tileHeight {
                for x in 0..<layout.tileWidth {
                    let i = y * layout.tileWidth + x
                    let expected: RGBImage.Color = et[i] ? SeriesPreview.enhancingColor : wt[i] ? SeriesPreview.wholeTumourColor
                        : .gray(slices[index][y * layout.step, x * layout.step])
                    XCTAssertEqual(picture[origin.x + x, origin.y + y], expected, "slice \(index) \(x),\(y)")
                    if wt[i] || et[i] { outline += 1 }
                }
            }
        }
        print("preview: \(slices.count) slices, \(outline) outline pixels")
    }

    private func waitForPageAddress(_ cluster: FleetCluster) throws -> String {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let log = cluster.log(of: "page")
            if let range = log.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                return String(log[range])
            }
            XCTAssertTrue(cluster.isRunning("page"), log)
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw TestSetupError(message: "reporter serve did not say where it listens: \(cluster.log(of: "page"))")
    }

    /// Headless Chromium (Debian's `chromium`), bounded in time; returns what it printed on stdout.
    private func chromium(_ arguments: [String]) throws -> String {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw TestSetupError(message: "/usr/bin/chromium is missing: scripts/install-deps.sh installs it")
        }
        let (status, output) = try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/timeout"), [
            "120", "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--force-color-profile=srgb", "--user-data-dir=\(profile.path)", "--no-first-run",
        ] + arguments)
        XCTAssertEqual(status, 0, output)
        return output
    }
}
