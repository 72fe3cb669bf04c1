import Broker
import Domain
import Fleet
import Foundation
import ResultsStore
import XCTest

/// Every failure path ends its study in `done` or `failed` with a reason a person can act on, through the four
/// executables on the real servers: nothing stays in `studies_in_flight`.
final class StudyEndingTests: XCTestCase {
    private var cluster: FleetCluster?
    private var work: URL?

    override func tearDown() {
        cluster?.stopAll()
        if let work { try? FileManager.default.removeItem(at: work) }
    }

    private static let ingestionFixtures = FleetCluster.repositoryRoot.appendingPathComponent("Tests/IngestionTests/Fixtures")
    private static let invalidFiles = FleetCluster.repositoryRoot.appendingPathComponent("Tests/DICOMTests/Fixtures/invalid")

    private func copy(_ folder: URL, into destination: URL, only names: [String]? = nil) throws {
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        for name in try names ?? FileManager.default.contentsOfDirectory(atPath: folder.path) {
            try FileManager.default.copyItem(at: folder.appendingPathComponent(name), to: destination.appendingPathComponent(name))
        }
    }

    /// A work folder with DEMO weights for `types`, and a cluster using them.
    private func makeCluster(types: String) throws -> (cluster: FleetCluster, export: URL) {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-ending-\(UUID().uuidString)")
        self.work = work
        let models = work.appendingPathComponent("models")
        let weights = try runCapturingOutput(FleetCluster.binDirectory.appendingPathComponent("cls-worker"),
                                             ["demo-weights", models.path, "--types", types])
        XCTAssertEqual(weights.status, 0, weights.output)
        let cluster = try FleetCluster(models: models)
        self.cluster = cluster
        return (cluster, work.appendingPathComponent("export"))
    }

    /// Starts the four workers and enqueues `export`; returns the workers' names (reporter first).
    @discardableResult
    private func run(_ cluster: FleetCluster, on export: URL) throws -> [String] {
        let workers = try ["reporter", "ingest", "seg-worker", "cls-worker"].map { try cluster.start($0) }
        try waitUntil(timeout: 120) { workers.allSatisfy { cluster.log(of: $0).contains("consuming") } }
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        return workers
    }

    func testEveryFailurePathEndsItsStudyWithAReason() throws {
        let (cluster, export) = try makeCluster(types: "FLAIR,T2w")

        // A: a good FLAIR series with two files whose headers hold NaN, and a T2w folder without SeriesInstanceUID.
        // B: only files with invalid headers. C: an empty study folder.
        try copy(Self.ingestionFixtures.appendingPathComponent("study/00007/FLAIR"), into: export.appendingPathComponent("A/FLAIR"))
        try copy(Self.invalidFiles, into: export.appendingPathComponent("A/FLAIR"),
                 only: ["rescale_slope_nan.dcm", "position_nan.dcm"])
        try copy(Self.ingestionFixtures.appendingPathComponent("no_series_uid"), into: export.appendingPathComponent("A/T2w"))
        try copy(Self.invalidFiles, into: export.appendingPathComponent("B/FLAIR"),
                 only: ["rescale_slope_inf.dcm", "high_bit_200.dcm", "frames_abc.dcm"])
        try FileManager.default.createDirectory(at: export.appendingPathComponent("C"), withIntermediateDirectories: true)

        try run(cluster, on: export)

        // D and E: studies whose series' jobs cannot succeed, announced as ingest announces a study.
        let broker = try cluster.broker()
        defer { broker.close() }
        func publish<M: FleetMessage>(_ message: M, to queue: String) throws {
            try broker.publish(OutgoingMessage(routingKey: queue, body: MessageCodec.encode(message)),
                               to: cluster.configuration.exchange)
        }
        let seriesD = SeriesIdentity(patientId: "00404", studyInstanceUid: "1.2.826.0.1.404", seriesInstanceUid: "1.2.826.0.1.404.1",
                                     mriType: "FLAIR")
        let seriesE = SeriesIdentity(patientId: "00405", studyInstanceUid: "1.2.826.0.1.405", seriesInstanceUid: "1.2.826.0.1.405.1",
                                     mriType: "T2w")
        for (index, series) in [seriesD, seriesE].enumerated() {
            try publish(StatusEvent(jobId: "announce-\(index)", stage: "ingest", .ingested(.init(
                source: "hand-made", patientId: series.patientId, studyInstanceUid: series.studyInstanceUid,
                series: [SeriesSummary(seriesInstanceUid: series.seriesInstanceUid, mriType: series.mriType,
                                       slicesTotal: 10, slicesKept: 10)],
                warnings: []))), to: cluster.queues.reportKey(of: "ingest"))
        }
        try cluster.waitForRows(timeout: 60, { try $0.connection.execute(
            "SELECT count(*) AS n FROM studies WHERE study_instance_uid LIKE '1.2.826.0.1.40%'").rows[0].int("n") },
            until: { $0 == 2 })
        // D's job points at an artifact that is not in the store; E's job lacks its inputs (undecodable).
        try publish(SegmentJob(series: seriesD, inputs: [
            "series.json": ArtifactRef(key: "ingest/gone/series.json", sha256: String(repeating: "0", count: 64))]),
                    to: cluster.queues.segment)
        var bodyE = try XCTUnwrap(JSONSerialization.jsonObject(with: MessageCodec.encode(SegmentJob(series: seriesE, inputs: [:])))
            as? [String: Any])
        bodyE.removeValue(forKey: "inputs")
        try broker.publish(OutgoingMessage(routingKey: cluster.queues.segment, body: JSONSerialization.data(withJSONObject: bodyE)),
                           to: cluster.configuration.exchange)

        // Three studies with rows (A, D, E), all ended; B and C failed before any DICOM identifier was known.
        let ended = try cluster.waitForRows(timeout: 300, { tables in
            try tables.connection.execute("SELECT patient_id, status, coalesce(warnings, '') AS warnings FROM studies ORDER BY 1")
                .rows.map { [try $0.string("patient_id"), try $0.string("status"), try $0.string("warnings")] }
        }, until: { rows in rows.count == 3 && rows.allSatisfy { $0[1] == "done" } })
        XCTAssertEqual(ended.map { $0[0] }, ["00007", "00404", "00405"])
        XCTAssertTrue(ended[0][2].contains("FLAIR/rescale_slope_nan.dcm: invalid attribute: RescaleSlope"), ended[0][2])
        XCTAssertTrue(ended[0][2].contains("FLAIR/position_nan.dcm: invalid attribute: ImagePositionPatient"), ended[0][2])
        XCTAssertTrue(ended[0][2].contains("T2w: 3 file(s) without SeriesInstanceUID"), ended[0][2])

        let tables = try cluster.tables()
        let series = try tables.connection.execute(
            "SELECT patient_id, status, coalesce(error, '') AS error FROM series ORDER BY 1").rows
            .map { [try $0.string("patient_id"), try $0.string("status"), try $0.string("error")] }
        XCTAssertEqual(series.map { $0[0] }, ["00007", "00404", "00405"])
        XCTAssertEqual(series[0][1], "classified", "the good slices of A's FLAIR went through")
        XCTAssertEqual(series[1][1...].map { $0 }, ["failed", "artifact 'ingest/gone/series.json' is not in the store"])
        XCTAssertEqual(series[2][1], "failed")
        XCTAssertTrue(series[2][2].hasPrefix("undecodable (rejected): message field 'inputs' is missing"), series[2][2])

        let failures = try tables.failures()
        let ingestFailures = failures.filter { $0.stage == "ingest" }.map(\.reason).sorted()
        XCTAssertEqual(ingestFailures.count, 2, "\(failures)")
        XCTAssertTrue(ingestFailures.contains { $0.contains("invalid_attribute") && $0.contains("FLAIR/frames_abc.dcm") },
                      "B: \(ingestFailures)")
        XCTAssertTrue(ingestFailures.contains { $0.contains("empty_study") }, "C: \(ingestFailures)")
        XCTAssertFalse(failures.contains { $0.reason.contains("delivery limit") }, "no job went round until the limit")
        XCTAssertEqual(try tables.connection.execute("SELECT count(*) AS n FROM studies_in_flight").rows[0].int("n"), 0)
    }

    /// Issue 14: a forged `report` event set a patient's probability to 0.999. A study goes through the fleet; then
    /// a `classified` event for its series claiming 0.999 arrives under the ingest role's key (sent by the admin
    /// user, whom the broker lets use any key; the ingest user itself is refused by the broker,
    /// BrokerPermissionTests). The reporter acks it without applying it and records why against the study.
    func testForgedClassificationUnderAnotherRolesKeyLeavesTheProbability() throws {
        let (cluster, export) = try makeCluster(types: "FLAIR")
        try copy(Self.ingestionFixtures.appendingPathComponent("study/00007/FLAIR"), into: export.appendingPathComponent("A/FLAIR"))
        let workers = try run(cluster, on: export)

        let probability = try XCTUnwrap(try cluster.waitForRows(timeout: 300, { try $0.patientPredictions() },
                                                                until: { $0.first?.probability != nil }).first?.probability)
        let row = try cluster.tables().connection.execute(
            "SELECT patient_id, study_instance_uid, series_instance_uid, mri_type FROM series").rows[0]
        let series = SeriesIdentity(patientId: try row.string("patient_id"), studyInstanceUid: try row.string("study_instance_uid"),
                                    seriesInstanceUid: try row.string("series_instance_uid"), mriType: try row.string("mri_type"))
        let forged = StatusEvent(jobId: "forged", stage: "classify", .classified(series, SeriesResult(
            weightsSha256: "forged", segmentationWeightsSha256: "forged", slicesSelected: 1,
            chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.999)], noChunksReason: nil)))
        let broker = try cluster.broker()
        defer { broker.close() }
        try broker.publish(OutgoingMessage(routingKey: cluster.queues.reportKey(of: "ingest"), body: MessageCodec.encode(forged)),
                           to: cluster.configuration.exchange)

        let refusals = try cluster.waitForRows(timeout: 60, { tables in
            try tables.connection.execute("""
                SELECT stage, coalesce(study_instance_uid, '') AS study, reason FROM failures WHERE job_id = 'forged'
                """).rows.map { [try $0.string("stage"), try $0.string("study"), try $0.string("reason")] }
        }, until: { !$0.isEmpty })
        XCTAssertEqual(refusals, [["report", series.studyInstanceUid,
                                   "status event 'classified' arrived from the ingest role's key; refused"]])
        let tables = try cluster.tables()
        XCTAssertEqual(try tables.patientPredictions().first?.probability, probability, "the forged 0.999 was not applied")
        XCTAssertFalse(try tables.connection.execute("SELECT 1 FROM chunk_predictions WHERE probability = 0.999").rows.count > 0)
        XCTAssertEqual(try broker.messageCount(queue: cluster.queues.report), 0, "acked, not requeued")
        XCTAssertEqual(try broker.messageCount(queue: QueueNames.deadLetter(of: cluster.queues.report)), 0)
        XCTAssertTrue(cluster.log(of: workers[0]).contains("status event refused"), "the refusal is logged")
    }
}
