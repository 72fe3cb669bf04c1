import Broker
import Domain
import Fleet
import Foundation
import ResultsStore
import XCTest

/// The 3D classifier in the fleet: with `classifier3d-<type>.safetensors` (seeded DEMO weights, a 16³ cube from
/// classifier3d.json to keep CI fast) in the model directory, ingest sends each series' raw volume to `classify3d`,
/// `cls-worker work --model resnet3d` classifies it, and the reporter keeps both models' rows; a study is done
/// when both have reported on every series. Its bad paths end the series' 3D status, and so the study, with a reason.
extension FleetEndToEndTests {
    /// A directory of this test under the class's fixture root (removed with it).
    private func makeScratch() throws -> URL {
        let url = Self.fixtures.root.appendingPathComponent("3d-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The end-to-end fixture's 2D model directory plus the 3D model's DEMO weights for FLAIR and T2w (16³).
    private func modelsWith3D(in scratch: URL) throws -> URL {
        let full = try Self.fixtures.modelDirectory()
        let models = scratch.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: full.path) {
            try FileManager.default.createSymbolicLink(at: models.appendingPathComponent(file),
                                                       withDestinationURL: full.appendingPathComponent(file))
        }
        let made = scratch.appendingPathComponent("made")
        try runCommand("cls-worker", ["demo-weights", made.path, "--types", "FLAIR,T2w", "--classifiers-only", "--resnet3d-size", "16"])
        for file in try FileManager.default.contentsOfDirectory(atPath: made.path) where file.hasPrefix("classifier3d") {
            try FileManager.default.moveItem(at: made.appendingPathComponent(file), to: models.appendingPathComponent(file))
        }
        return models
    }

    @discardableResult
    private func runCommand(_ executable: String, _ arguments: [String]) throws -> String {
        let (status, output) = try runCapturingOutput(FleetCluster.binDirectory.appendingPathComponent(executable), arguments)
        guard status == 0 else { throw TestSetupError(message: "\(executable) \(arguments) failed: \(output)") }
        return output
    }

    /// What `cls-worker run --model resnet3d --json` prints, the fields compared.
    struct VolumeOffline: Decodable {
        struct Series: Decodable {
            let mriType: String
            let probability: Double?
            let weightsSha256: String?
            let status: String
        }
        let patientId: String
        let probability: Double?
        let series: [Series]
    }

    func testBothModelsRowsAndTheSideBySideViewEqualTheOfflineRuns() throws {
        let scratch = try makeScratch()
        let models = try modelsWith3D(in: scratch)
        let export = try Self.fixtures.export("single", patients: ["00500"])
        let study = export.appendingPathComponent("00500")

        // Offline: ingest with the model directory keeps volume.npy; the 3D model's per-type and patient results.
        let offlineDirectory = scratch.appendingPathComponent("offline")
        try runCommand("ingest", ["run", study.path, "--out", offlineDirectory.path, "--models", models.path])
        let json = try runCommand("cls-worker", ["run", offlineDirectory.path, "--model", "resnet3d", "--models", models.path,
                                          "--threads", "2", "--json"])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let offline = try decoder.decode(VolumeOffline.self, from: Data(json.utf8))
        XCTAssertEqual(offline.series.map(\.status), ["classified", "classified"])
        let offline3D = try XCTUnwrap(offline.probability)
        let offline2D = try XCTUnwrap(try Self.fixtures.offlineResult(study: study).probability)

        let cluster = try startFleet(models: models)
        try cluster.start("cls-worker", name: "cls3d", arguments: ["work", "--model", "resnet3d"])
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        _ = try cluster.waitForRows(timeout: 240, doneStudies, until: { $0 == 1 })
        let tables = try cluster.tables()
        XCTAssertEqual(try tables.failures(), [])

        // The 3D model's rows: one series prediction per type and the patient's, equal to the offline run.
        let seriesRows = try tables.connection.execute("""
            SELECT mri_type, probability, n_chunks, weights_sha256, segmentation_weights_sha256 IS NULL AS no_seg
            FROM series_predictions WHERE model = 'resnet3d' ORDER BY mri_type
            """).rows
        XCTAssertEqual(try seriesRows.map { try $0.string("mri_type") }, offline.series.map(\.mriType))
        for (row, expected) in zip(seriesRows, offline.series) {
            XCTAssertEqual(try row.double("probability"), try XCTUnwrap(expected.probability), accuracy: 1e-12)
            XCTAssertEqual(try row.string("weights_sha256"), expected.weightsSha256)
            XCTAssertEqual(try row.int("n_chunks"), 1)
            XCTAssertTrue(try row.bool("no_seg"))
        }
        let patient3D = try XCTUnwrap(try tables.patientPredictions(model: .resnet3d).first)
        XCTAssertEqual(try XCTUnwrap(patient3D.probability), offline3D, accuracy: 1e-12)
        XCTAssertEqual(patient3D.nTypes, 2)
        // The 2D rows are as before the 3D model (the end-to-end test's comparison), and apart from the 3D ones.
        try assertRowsMatchOffline(tables, patient: "00500", study: study)
        XCTAssertEqual(try tables.connection.execute(
            "SELECT count(*) AS n FROM series_predictions WHERE model = 'nfnet-lstm'").rows[0].int("n"), 2)
        XCTAssertEqual(try tables.connection.execute(
            "SELECT string_agg(resnet3d_status, ',') AS s FROM series").rows[0].string("s"), "classified,classified")

        // Side by side: both models' patient probabilities and their mean.
        let view = try tables.connection.execute("""
            SELECT patient_id, nfnet_lstm, resnet3d, mean_probability, n_models FROM patient_predictions_by_model
            """).rows
        XCTAssertEqual(view.count, 1)
        XCTAssertEqual(try view[0].string("patient_id"), "00500")
        XCTAssertEqual(try view[0].double("nfnet_lstm"), offline2D, accuracy: 1e-12)
        XCTAssertEqual(try view[0].double("resnet3d"), offline3D, accuracy: 1e-12)
        XCTAssertEqual(try view[0].double("mean_probability"), (offline2D + offline3D) / 2, accuracy: 1e-12)
        XCTAssertEqual(try view[0].int("n_models"), 2)
        // The submission export of either model or of their mean.
        for (model, expected) in [("nfnet-lstm", offline2D), ("resnet3d", offline3D), ("mean", (offline2D + offline3D) / 2)] {
            let csv = try cluster.runToCompletion("reporter", ["export", "--csv", "--model", model])
            XCTAssertEqual(csv.status, 0, csv.output)
            let row = try XCTUnwrap(csv.output.split(separator: "\n").first { $0.hasPrefix("00500,") }, csv.output)
            XCTAssertEqual(try XCTUnwrap(Double(row.dropFirst("00500,".count))), expected, accuracy: 1e-12, model)
        }
        XCTAssertEqual(cluster.terminate("cls3d"), 0, "the 3D worker stops cleanly on SIGTERM")
    }

    /// Jobs the 3D worker cannot run: a volume missing from the store, a job without its volume input, and a body
    /// that does not decode (dead-lettered). Each fails its series' 3D status with the reason; the study, whose
    /// 2D results are in, ends done.
    func testBadVolumeJobsFailTheSeries3DStatusWithAReasonAndTheStudyEnds() throws {
        let scratch = try makeScratch()
        let models = try modelsWith3D(in: scratch)
        let cluster = try startFleet(models: models)
        let worker = try cluster.start("cls-worker", name: "cls3d", arguments: ["work", "--model", "resnet3d"])
        try waitUntil(timeout: 60) { cluster.log(of: worker).contains("consuming") }
        let broker = try cluster.broker()
        defer { broker.close() }
        func publish(_ body: Data, to key: String) throws {
            try broker.publish(OutgoingMessage(routingKey: key, body: body), to: cluster.configuration.exchange)
        }
        let series = ["1.2.9.1", "1.2.9.2", "1.2.9.3"].map {
            SeriesIdentity(patientId: "00901", studyInstanceUid: "1.2.9", seriesInstanceUid: $0, mriType: "FLAIR")
        }
        // The study as ingest announces it, and every series' 2D result.
        try publish(MessageCodec.encode(StatusEvent(jobId: "ingest-901", stage: "ingest", .ingested(.init(
            source: "/export/00901", patientId: "00901", studyInstanceUid: "1.2.9",
            series: series.map { SeriesSummary(seriesInstanceUid: $0.seriesInstanceUid, mriType: "FLAIR", slicesTotal: 8,
                                               slicesKept: 8, models: [.nfnetLSTM, .resnet3d]) },
            warnings: [])))), to: cluster.queues.reportKey(of: "ingest"))
        for item in series {
            try publish(MessageCodec.encode(StatusEvent(jobId: "cls-\(item.seriesInstanceUid)", stage: "classify", .classified(
                item, SeriesResult(weightsSha256: "w", segmentationWeightsSha256: "s", slicesSelected: 1,
                                   chunks: [ChunkResult(index: 0, firstInstance: 1, probability: 0.5)], noChunksReason: nil)))),
                        to: cluster.queues.reportKey(of: "classify"))
        }
        let tables = try cluster.tables()
        _ = try cluster.waitForRows(timeout: 60, { try $0.seriesStates(studyInstanceUid: "1.2.9").map(\.status) },
                                    until: { $0 == ["classified", "classified", "classified"] })
        XCTAssertEqual(try tables.studyStatus("1.2.9"), "ingested", "not done while the 3D results are pending")

        // series.json is in the store (any document: the job fails before reading it), volume.npy is not.
        let metadata = try ArtifactStore(root: cluster.configuration.storeRoot)
            .put(Data("{}".utf8), key: "ingest/none/series.json")
        let missingVolume = ArtifactRef(key: "ingest/none/volume.npy", sha256: String(repeating: "0", count: 64))
        try publish(MessageCodec.encode(VolumeClassifyJob(series: series[0], inputs: [
            "series.json": metadata, "volume.npy": missingVolume])), to: cluster.queues.classify3d)
        try publish(MessageCodec.encode(VolumeClassifyJob(series: series[1], inputs: ["series.json": metadata])),
                    to: cluster.queues.classify3d)
        var malformed = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: MessageCodec.encode(VolumeClassifyJob(series: series[2], inputs: [:]))) as? [String: Any])
        malformed.removeValue(forKey: "inputs")
        try publish(try JSONSerialization.data(withJSONObject: malformed), to: cluster.queues.classify3d)

        _ = try cluster.waitForRows(timeout: 60, { try $0.studyStatus("1.2.9") }, until: { $0 == "done" })
        let states = try tables.connection.execute("""
            SELECT series_instance_uid, resnet3d_status, resnet3d_error FROM series ORDER BY series_instance_uid
            """).rows
        XCTAssertEqual(try states.map { try $0.string("resnet3d_status") }, ["failed", "failed", "failed"])
        let reasons = try states.map { try $0.string("resnet3d_error") }
        XCTAssertEqual(reasons[0], "artifact 'ingest/none/volume.npy' is not in the store")
        XCTAssertEqual(reasons[1], "classify3d job has no input 'volume.npy'")
        XCTAssertTrue(reasons[2].hasPrefix("undecodable (rejected): message field 'inputs' is missing"), reasons[2])
        let failures = try tables.failures()
        XCTAssertEqual(failures.map(\.stage), ["classify3d", "classify3d", "classify3d"])
        XCTAssertEqual(failures.filter { $0.kind == "dead-lettered" }.map(\.queue), [cluster.queues.classify3d])
        // The 2D rows stand; the 3D patient row has no probability and says why.
        XCTAssertEqual(try tables.patientPredictions().first?.probability, 0.5)
        let patient3D = try XCTUnwrap(try tables.patientPredictions(model: .resnet3d).first)
        XCTAssertNil(patient3D.probability)
        XCTAssertTrue(patient3D.reason?.contains("classify3d job has no input 'volume.npy'") == true,
                      String(describing: patient3D.reason))
        XCTAssertTrue(cluster.isRunning(worker), "the 3D worker is alive after the bad jobs")
    }
}
