import ArrayFiles
import Domain
import Fleet
import FleetDeliver
import Foundation
import ResultsStore
import XCTest

/// The study's results back to PACS: the reporter publishes a `deliver` job when a study is done, `ingest deliver`
/// writes a SEG per series and an SR, stores them and sends them by C-STORE to DCMTK's `storescp` (the PACS);
/// what arrived is checked by dciodvfy (dicom3tools) and read back by highdicom/pydicom (scripts/dicom-python.sh).
extension FleetEndToEndTests {
    func testDoneStudyReachesStorescpAsValidSegAndSr() throws {
        let port = freeLocalPort()
        let pacs = try Storescp(port: port)
        defer { pacs.stop() }
        let (cluster, tables, study) = try deliverOneStudy(port: port, attempts: 5)
        let outputs = try cluster.waitForRows(timeout: 120, { try $0.dicomOutputs(studyInstanceUid: study) },
                                              until: { !$0.isEmpty && $0.allSatisfy { $0.status == .sent } })
        XCTAssertEqual(try tables.studyStatus(study), "done")

        // One SEG per series whose masks hold tumour, one SR; every row sent to the PACS, stored in the store.
        let masks = try seriesMasks(cluster, tables, study: study)
        XCTAssertEqual(Set(outputs.filter { $0.kind == .segmentation }.compactMap(\.sourceSeriesInstanceUid)),
                       Set(masks.filter { $0.value.masks.contains { $0 != 0 } }.keys))
        XCTAssertGreaterThan(outputs.filter { $0.kind == .segmentation }.count, 0, "the sample study has tumour masks")
        XCTAssertEqual(outputs.filter { $0.kind == .report }.count, 1)
        for output in outputs {
            XCTAssertEqual(output.destination, "PACS@127.0.0.1:\(port)")
            XCTAssertNil(output.error)
            XCTAssertTrue(FileManager.default.fileExists(atPath: cluster.root.appendingPathComponent("store/\(output.storeKey)").path))
        }

        let received = try pacs.receivedFiles()
        XCTAssertEqual(Set(received.keys), Set(outputs.map(\.sopInstanceUid)), "storescp received every object")
        for output in outputs {
            let path = try XCTUnwrap(received[output.sopInstanceUid])
            XCTAssertEqual(try dciodvfyErrors(path), [], "\(output.kind) passes dciodvfy")
            if output.kind == .segmentation, let source = output.sourceSeriesInstanceUid, let series = masks[source] {
                let check = try dicomPeer(["check-seg", path, series.masksFile.path, series.sourcesFile.path])
                let frames = try XCTUnwrap(check["frames"] as? [[String: Any]])
                XCTAssertFalse(frames.isEmpty)
                XCTAssertTrue(frames.allSatisfy { $0["equal"] as? Bool == true }, "SEG frames equal masks.npy: \(frames)")
                let written = Set(frames.map { "\($0["source"] as? String ?? "")/\($0["segment"] as? Int ?? 0)" })
                let expected = Set(try XCTUnwrap(check["expected_frames"] as? [[Any]]).map { "\($0[0])/\($0[1])" })
                XCTAssertEqual(written, expected, "one frame per (segment, source slice with tumour), referencing the source slice")
                XCTAssertEqual(check["study"] as? String, study)
            }
        }

        // The SR holds the probabilities of patient_predictions and series_predictions.
        let report = try XCTUnwrap(outputs.first { $0.kind == .report })
        let content = try XCTUnwrap(try dicomPeer(["read-sr", try XCTUnwrap(received[report.sopInstanceUid])])["content"]
            as? [[String: Any]])
        let patient = try XCTUnwrap(try tables.patientPredictions().first { $0.patientId == "00500" })
        let reported = content.first { $0["type"] as? String == "NUM" }?["value"] as? Double
        XCTAssertEqual(try XCTUnwrap(reported), try XCTUnwrap(patient.probability), accuracy: 1e-6)
        let seriesRows = try tables.connection.execute(
            "SELECT series_instance_uid, probability FROM series_predictions WHERE patient_id = '00500'").rows
        for row in seriesRows {
            let uid = try row.string("series_instance_uid")
            let children = content.compactMap { $0["children"] as? [[String: Any]] }
                .first { $0.contains { $0["concept"] as? String == "Series Instance UID" && $0["value"] as? String == uid } }
            let value = try XCTUnwrap(children, "the SR lists series \(uid)")
                .first { $0["concept"] as? String == "MGMT promoter methylation probability" }?["value"] as? Double
            let expected: Double? = try row.optionalValue("probability")
            XCTAssertEqual(value == nil, expected == nil, "series \(uid): a probability only where there are chunks")
            if let value, let expected { XCTAssertEqual(value, expected, accuracy: 1e-6, "series \(uid)") }
        }

        // Patient names reach the objects (copied from the source), never the logs.
        for name in cluster.processes.keys { XCTAssertFalse(cluster.log(of: name).contains("Synthetic^Phantom"), name) }
        XCTAssertEqual(try tables.failures(), [])
    }

    func testDestinationDownLeavesFailedRowsAndADoneStudyThenResendDelivers() throws {
        let port = freeLocalPort()  // nothing listens there yet
        let (cluster, tables, study) = try deliverOneStudy(port: port, attempts: 2)
        let failed = try cluster.waitForRows(timeout: 120, { try $0.dicomOutputs(studyInstanceUid: study) },
                                             until: { !$0.isEmpty && $0.allSatisfy { $0.status == .failed } })
        for output in failed {
            XCTAssertEqual(output.attempts, 2, "bounded by MGMT_DICOM_SEND_ATTEMPTS")
            XCTAssertTrue(output.error?.contains("C-STORE to PACS@127.0.0.1:\(port)") == true, output.error ?? "no error")
            XCTAssertTrue(FileManager.default.fileExists(atPath: cluster.root.appendingPathComponent("store/\(output.storeKey)").path),
                          "the object stays stored for a resend")
        }
        XCTAssertEqual(try tables.studyStatus(study), "done", "the prediction stands whatever happens to delivery")
        XCTAssertNotNil(try tables.patientPredictions().first { $0.patientId == "00500" }?.probability)
        XCTAssertEqual(try tables.failures().map(\.stage), ["deliver"])

        let pacs = try Storescp(port: port)
        defer { pacs.stop() }
        let resend = try cluster.runToCompletion("reporter", ["resend", study])
        XCTAssertEqual(resend.status, 0, resend.output)
        let sent = try cluster.waitForRows(timeout: 120, { try $0.dicomOutputs(studyInstanceUid: study) },
                                           until: { $0.allSatisfy { $0.status == .sent } })
        XCTAssertEqual(sent.map(\.sopInstanceUid), failed.map(\.sopInstanceUid), "the same objects, now sent")
        XCTAssertEqual(Set(try pacs.receivedFiles().keys), Set(sent.map(\.sopInstanceUid)))
        XCTAssertNotEqual(try cluster.runToCompletion("reporter", ["resend", "1.2.3.999"]).status, 0,
                          "an unknown study is an error")
    }

    /// The fleet with `ingest deliver` sending to PACS@127.0.0.1:`port`, one study enqueued; returns once the study
    /// is done.
    private func deliverOneStudy(port: Int, attempts: Int) throws -> (FleetCluster, ResultsTables, study: String) {
        let export = try Self.fixtures.export("single", patients: ["00500"])
        let cluster = try startFleet(extra: [
            "MGMT_DICOM_DESTINATION": "PACS@127.0.0.1:\(port)", "MGMT_DICOM_SEND_ATTEMPTS": "\(attempts)",
            "MGMT_DICOM_SEND_BACKOFF": "0.2", "MGMT_DICOM_AE": "MGMTFLEET"])
        try cluster.start("ingest", name: "deliver", arguments: ["deliver"])
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        let study = try cluster.waitForRows(timeout: 240, { try $0.onlyStudy() }, until: { $0 != nil }) ?? nil
        return (cluster, try cluster.tables(), try XCTUnwrap(study))
    }

    /// Per series of the study: its masks (from the store, via series_artifacts) written for peer.py check-seg,
    /// with the SOP Instance UIDs of its stored slices.
    private func seriesMasks(_ cluster: FleetCluster, _ tables: ResultsTables, study: String) throws
        -> [String: (masks: [UInt8], masksFile: URL, sourcesFile: URL)]
    {
        let rows = try tables.connection.execute("""
            SELECT a.series_instance_uid, a.file, a.key FROM series_artifacts a JOIN series r USING (series_instance_uid)
            WHERE r.study_instance_uid = $1
            """, [study]).rows
        var keys: [String: [String: String]] = [:]
        for row in rows { keys[try row.string("series_instance_uid"), default: [:]][try row.string("file")] = try row.string("key") }
        var result: [String: (masks: [UInt8], masksFile: URL, sourcesFile: URL)] = [:]
        for (series, files) in keys {
            let store = cluster.root.appendingPathComponent("store")
            let masks = try XCTUnwrap(try NpyArray(contentsOf: store.appendingPathComponent(try XCTUnwrap(files["masks.npy"])))
                .uint8Values)
            let metadata = try XCTUnwrap(try JSONSerialization.jsonObject(
                with: Data(contentsOf: store.appendingPathComponent(try XCTUnwrap(files["series.json"])))) as? [String: Any])
            let sources = try XCTUnwrap(metadata["slice_sources"] as? [[String: Any]]).compactMap { $0["sop_instance_uid"] as? String }
            let masksFile = cluster.root.appendingPathComponent("masks-\(series).raw")
            let sourcesFile = cluster.root.appendingPathComponent("sources-\(series).json")
            try Data(masks).write(to: masksFile)
            try JSONSerialization.data(withJSONObject: sources).write(to: sourcesFile)
            result[series] = (masks, masksFile, sourcesFile)
        }
        return result
    }
}

extension ResultsTables {
    /// The study of the cluster, once the reporter recorded it done.
    func onlyStudy() throws -> String? {
        try connection.execute("SELECT study_instance_uid FROM studies WHERE status = 'done'").rows.first
            .map { try $0.string("study_instance_uid") }
    }
}

/// DCMTK's storescp as the PACS, on 127.0.0.1:`port`, writing what it receives into a temporary folder.
final class Storescp {
    let output: URL
    private let process = Process()

    init(port: Int) throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("pacs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/storescp")
        process.arguments = ["-aet", "PACS", "--output-directory", output.path, "\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Listening once echoscu gets an answer.
        let deadline = Date().addingTimeInterval(20)
        while try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/echoscu"),
                                     ["-aec", "PACS", "127.0.0.1", "\(port)"]).status != 0 {
            guard Date() < deadline, process.isRunning else { throw TestSetupError(message: "storescp did not start") }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// The received files by SOP Instance UID (storescp names them by modality and SOP Instance UID).
    func receivedFiles() throws -> [String: String] {
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: output.path) {
            let path = output.appendingPathComponent(name).path
            let dump = try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/dcmdump"), ["-q", "+P", "0008,0018", path])
            let uid = dump.output.split(separator: "[").dropFirst().first?.split(separator: "]").first.map(String.init)
            if let uid { files[uid] = path }
        }
        return files
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: output)
    }
}

/// Lines of dciodvfy's report that start with "Error".
func dciodvfyErrors(_ path: String) throws -> [String] {
    let result = try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/dciodvfy"), [path])
    guard !result.output.isEmpty else { throw TestSetupError(message: "dciodvfy printed nothing") }
    return result.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("Error") }
}

/// Runs a tools/dicom/peer.py command with the DICOM Python (scripts/dicom-python.sh) and decodes its JSON.
func dicomPeer(_ arguments: [String]) throws -> [String: Any] {
    let root = FleetCluster.repositoryRoot
    let python = try runCapturingOutput(URL(fileURLWithPath: "/bin/bash"),
                                        [root.appendingPathComponent("scripts/dicom-python.sh").path])
    guard python.status == 0, let interpreter = python.output.split(separator: "\n").last.map(String.init) else {
        throw TestSetupError(message: "scripts/dicom-python.sh failed: \(python.output)")
    }
    let result = try runCapturingOutput(URL(fileURLWithPath: interpreter),
                                        [root.appendingPathComponent("tools/dicom/peer.py").path] + arguments)
    guard result.status == 0, let line = result.output.split(separator: "\n").last,
          let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else { throw TestSetupError(message: "peer.py \(arguments.first ?? "") failed: \(result.output)") }
    return json
}

/// `ingest deliver`'s stage on a worker of its own, without a destination, on series directories `ingest run` made:
/// what it writes, what it stores, and how it reports series that cannot get a SEG.
final class DeliverStageTests: XCTestCase {
    private var harness: WorkerHarness?
    private var work: URL?

    override func tearDown() {
        harness?.stop()
        if let work { try? FileManager.default.removeItem(at: work) }
        if let root = harness?.storeRoot { try? FileManager.default.removeItem(at: root) }
    }

    func testWithoutDestinationObjectsAreStoredAndSeriesWithoutUsableFilesAreWarnings() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-deliver-\(UUID().uuidString)")
        self.work = work
        try SampleStudies.make(into: work.appendingPathComponent("export"), patient: "00600", slices: 8, size: 32,
                               series: "FLAIR,T2w")
        let ingested = work.appendingPathComponent("ingested")
        let run = try runCapturingOutput(FleetCluster.binDirectory.appendingPathComponent("ingest"),
                                         ["run", work.appendingPathComponent("export/00600").path, "--out", ingested.path])
        XCTAssertEqual(run.status, 0, run.output)
        let harness = try WorkerHarness()
        self.harness = harness
        let store = try ArtifactStore(root: harness.storeRoot.path)

        // FLAIR: a tumour on the middle slices. T2w: its series.json as schema 1 wrote it (no source instances).
        func stored(_ type: String, schema1: Bool) throws -> (inputs: [String: ArtifactRef], masks: [UInt8], uid: String,
                                                              sources: [String]) {
            let url = ingested.appendingPathComponent("\(type)/series.json")
            var document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let (slices, rows, columns) = (document["slices"] as? Int ?? 0, document["rows"] as? Int ?? 0, document["columns"] as? Int ?? 0)
            let sources = (document["slice_sources"] as? [[String: Any]] ?? []).compactMap { $0["sop_instance_uid"] as? String }
            if schema1 {
                document["schema"] = 1
                document["slice_sources"] = nil
                document["study"] = nil
            }
            var masks = [UInt8](repeating: 0, count: slices * 2 * rows * columns)
            for slice in 2..<min(5, slices) {
                for row in 10..<16 {
                    for column in 12..<18 {
                        masks[((slice * 2) * rows + row) * columns + column] = 1
                        if slice == 3 { masks[((slice * 2 + 1) * rows + row) * columns + column] = 1 }
                    }
                }
            }
            let masksFile = work.appendingPathComponent("\(type)-masks.npy")
            try NpyArray(shape: [slices, 2, rows, columns], values: .uint8(masks)).write(to: masksFile)
            return (["series.json": try store.put(try JSONSerialization.data(withJSONObject: document), key: "test/\(type)/series.json"),
                     "masks.npy": try store.put(fileAt: masksFile, key: "test/\(type)/masks.npy")],
                    masks, document["series_instance_uid"] as? String ?? "", sources)
        }
        let flair = try stored("FLAIR", schema1: false), t2w = try stored("T2w", schema1: true)
        let study = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: ingested.appendingPathComponent("study.json")))
            as? [String: Any])["study_instance_uid"] as? String ?? ""
        func series(_ uid: String, _ type: String, _ inputs: [String: ArtifactRef], _ probability: Double?) -> DeliverableSeries {
            DeliverableSeries(seriesInstanceUid: uid, mriType: type, inputs: inputs, segmentationWeightsSha256: "seg",
                              classifierWeightsSha256: "cls-\(type)", probability: probability, chunkCount: probability == nil ? 0 : 2)
        }
        let job = DeliverJob(patientId: "00600", studyInstanceUid: study, patientProbability: 0.375, noResultReason: nil,
                             series: [series(flair.uid, "FLAIR", flair.inputs, 0.375), series(t2w.uid, "T2w", t2w.inputs, nil),
                                      series("1.2.3.9", "T1w", [:], nil)])

        try harness.start(DeliverStage(destination: nil))
        try harness.publish(job, to: .deliver)
        let events = try harness.take(1, from: harness.queues.report, timeout: 60)
        let body = try XCTUnwrap(events.first?.body)
        XCTAssertFalse(String(decoding: body, as: UTF8.self).contains("Phantom"), "no patient name in the message")
        let event = try MessageCodec.decode(StatusEvent.self, from: body)
        guard case .delivered(let delivery) = event.outcome else { return XCTFail("\(event.outcome)") }
        XCTAssertNil(delivery.destination)
        XCTAssertEqual(delivery.attempts, 0)
        XCTAssertEqual(delivery.objects.map(\.kind), [.segmentation, .report])
        XCTAssertEqual(delivery.objects.first?.sourceSeriesInstanceUid, flair.uid)
        XCTAssertEqual(delivery.warnings.count, 2, "\(delivery.warnings)")
        XCTAssertTrue(delivery.warnings[0].contains("series.json schema 1 has no source instances"), delivery.warnings[0])
        XCTAssertTrue(delivery.warnings[1].contains("1.2.3.9 (T1w): no SEG: the result names no series.json"), delivery.warnings[1])

        for object in delivery.objects {
            let path = try store.location(of: object.artifact.key)
            XCTAssertEqual(object.artifact.key, DeliverStage.artifactKey(studyInstanceUid: study, sopInstanceUid: object.sopInstanceUid))
            XCTAssertEqual(try dciodvfyErrors(path), [], "\(object.kind) passes dciodvfy")
            let name = try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/dcmdump"), ["-q", "+P", "0010,0010", path]).output
            XCTAssertTrue(name.contains("Synthetic^Phantom"), "the object copies the source's patient name: \(name)")
        }
        let seg = try store.location(of: delivery.objects[0].artifact.key)
        let masksFile = work.appendingPathComponent("flair.raw"), sourcesFile = work.appendingPathComponent("flair.json")
        try Data(flair.masks).write(to: masksFile)
        try JSONSerialization.data(withJSONObject: flair.sources).write(to: sourcesFile)
        let check = try dicomPeer(["check-seg", seg, masksFile.path, sourcesFile.path])
        let frames = try XCTUnwrap(check["frames"] as? [[String: Any]])
        XCTAssertEqual(frames.count, 4, "WT on three slices, ET on one")
        XCTAssertTrue(frames.allSatisfy { $0["equal"] as? Bool == true }, "\(frames)")
        let content = try XCTUnwrap(try dicomPeer(["read-sr", try store.location(of: delivery.objects[1].artifact.key)])["content"]
            as? [[String: Any]])
        XCTAssertEqual(content.filter { $0["concept"] as? String == "MRI series result" }.count, 3, "every classified series")
        XCTAssertEqual(content.first { $0["type"] as? String == "NUM" }?["value"] as? Double, 0.375)
    }
}
