import Broker
import Domain
import Fleet
import FleetReport
import Foundation
import Logging
import ResultsStore
import XCTest

final class ReporterTests: XCTestCase {
    private var harness: WorkerHarness?
    private var schema: String?

    override func tearDown() {
        harness?.stop()
        if let schema { TestServers.dropSchema(schema) }
    }

    private let flair = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.1",
                                       mriType: "FLAIR")

    /// A reporter worker on a private topology and schema (both removed at tear-down).
    private func startReporter() throws -> (WorkerHarness, schema: String, Worker<ReporterStage>) {
        let harness = try WorkerHarness()
        self.harness = harness
        let schema = TestServers.uniqueName("fleet_reporter")
        self.schema = schema
        let reporter = ReporterStage(conninfo: try TestServers.postgresConninfo(), schema: schema,
                                     queues: harness.queues, logger: Logger(label: "test-reporter"))
        try reporter.prepare()
        return (harness, schema, try harness.start(reporter))
    }

    func testStatusEventsAndDeadLettersBecomeRows() throws {
        let (harness, schema, worker) = try startReporter()

        try harness.publish(StatusEvent(jobId: "ingest-job", stage: "ingest", .ingested(.init(
            source: "/export/00042", patientId: "00042", studyInstanceUid: "1.2.3",
            series: [SeriesSummary(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18)],
            warnings: []))), to: .report)
        let classified = StatusEvent(jobId: "classify-job", stage: "classify", .classified(flair, SeriesResult(
            weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 12,
            chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.625)], noChunksReason: nil)))
        try harness.publish(classified, to: .report)
        try harness.publish(classified, to: .report)  // a duplicate delivery
        // Undecodable on `classify`: nobody consumes it here, so reject it by hand as a worker would.
        try harness.publish(Data(#"{"schema":7,"kind":"classify","job_id":"future"}"#.utf8), to: .classify)
        let bad = try XCTUnwrap(try waitForGet(harness.broker, queue: harness.queues.classify))
        try harness.broker.reject(bad, requeue: false)

        try waitUntil { worker.deliveriesSettled == 4 }
        let connection = try PostgresConnection(conninfo: try TestServers.postgresConninfo())
        try connection.execute("SET search_path TO \"\(schema)\"")
        let tables = ResultsTables(connection)
        let patient = try XCTUnwrap(try tables.patientPredictions().first)
        XCTAssertEqual(patient.patientId, "00042")
        XCTAssertEqual(patient.probability, 0.625)
        XCTAssertEqual(patient.weightsSha256, ["cls"])
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "done")
        XCTAssertEqual(try tables.rowCounts()["chunk_predictions"], 1)
        let failures = try tables.failures()
        XCTAssertEqual(failures.count, 1)
        XCTAssertEqual(failures.first?.kind, "dead-lettered")
        XCTAssertEqual(failures.first?.stage, "classify")
        XCTAssertEqual(failures.first?.jobId, "future")
        XCTAssertEqual(failures.first?.reason,
                       "undecodable (rejected): unknown message schema 7 (this worker reads 1)")
        XCTAssertEqual(SubmissionExport.csv(try tables.patientPredictions(), fillMissing: nil),
                       "BraTS21ID,MGMT_value\n00042,0.625\n")
    }

    /// A study turning `done` publishes its `deliver` job with what the reporter knows (artifact refs, weights,
    /// probabilities); the DICOM edge's events become `dicom_outputs` rows, and a failed delivery leaves the
    /// study done.
    func testDoneStudyPublishesItsDeliverJobAndDeliveryEventsBecomeDicomOutputRows() throws {
        let (harness, schema, worker) = try startReporter()

        let t2w = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.2", mriType: "T2w")
        try harness.publish(StatusEvent(jobId: "ingest-job", stage: "ingest", .ingested(.init(
            source: "/export/00042", patientId: "00042", studyInstanceUid: "1.2.3",
            series: [SeriesSummary(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18),
                     SeriesSummary(seriesInstanceUid: "1.2.3.2", mriType: "T2w", slicesTotal: 20, slicesKept: 18)],
            warnings: []))), to: .report)
        let sources = ["series.json": ArtifactRef(key: "ingest/a/series.json", sha256: "aa"),
                       "masks.npy": ArtifactRef(key: "segment/b/masks.npy", sha256: "bb")]
        try harness.publish(StatusEvent(jobId: "classify-flair", stage: "classify", .classified(flair, SeriesResult(
            weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 12,
            chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.625)], noChunksReason: nil,
            sources: sources))), to: .report)
        try waitUntil { worker.deliveriesSettled == 2 }
        XCTAssertNil(try harness.broker.get(queue: harness.queues.deliver), "not before the study is done")
        try harness.publish(StatusEvent(jobId: "segment-t2w", stage: "segment", .failed(.series(t2w), error: "model error")),
                            to: .report)

        let delivery = try XCTUnwrap(try waitForGet(harness.broker, queue: harness.queues.deliver))
        try harness.broker.ack(delivery)
        let job = try MessageCodec.decode(DeliverJob.self, from: delivery.body)
        XCTAssertEqual(job.studyInstanceUid, "1.2.3")
        XCTAssertEqual(job.patientId, "00042")
        XCTAssertEqual(job.patientProbability, 0.625)
        XCTAssertNil(job.noResultReason)
        XCTAssertEqual(job.series, [DeliverableSeries(
            seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", inputs: sources, segmentationWeightsSha256: "seg",
            classifierWeightsSha256: "cls", probability: 0.625, chunkCount: 1)], "the failed series has no result to deliver")

        let objects = [
            DicomDelivery.Object(kind: .segmentation, seriesInstanceUid: "2.25.1", sopInstanceUid: "2.25.11",
                                 sourceSeriesInstanceUid: "1.2.3.1", artifact: ArtifactRef(key: "dicom/1.2.3/2.25.11.dcm", sha256: "cc")),
            DicomDelivery.Object(kind: .report, seriesInstanceUid: "2.25.2", sopInstanceUid: "2.25.22",
                                 sourceSeriesInstanceUid: nil, artifact: ArtifactRef(key: "dicom/1.2.3/2.25.22.dcm", sha256: "dd")),
        ]
        var report = DicomDelivery(patientId: "00042", studyInstanceUid: "1.2.3", objects: objects,
                                   destination: "PACS@127.0.0.1:11112", attempts: 3, warnings: [])
        try harness.publish(StatusEvent(jobId: job.jobId, stage: "deliver",
                                        .deliveryFailed(report, error: "C-STORE to PACS@127.0.0.1:11112: refused")), to: .report)
        try waitUntil { worker.deliveriesSettled == 4 }
        let connection = try PostgresConnection(conninfo: try TestServers.postgresConninfo())
        try connection.execute("SET search_path TO \"\(schema)\"")
        let tables = ResultsTables(connection)
        var rows = try tables.dicomOutputs(studyInstanceUid: "1.2.3")
        XCTAssertEqual(rows.map(\.sopInstanceUid), ["2.25.11", "2.25.22"])
        XCTAssertEqual(rows.map(\.kind), [.segmentation, .report])
        XCTAssertEqual(rows.map(\.status), [.failed, .failed])
        XCTAssertEqual(rows.map(\.attempts), [3, 3])
        XCTAssertEqual(rows.first?.error, "C-STORE to PACS@127.0.0.1:11112: refused")
        XCTAssertEqual(rows.first?.storeKey, "dicom/1.2.3/2.25.11.dcm")
        XCTAssertEqual(rows.first?.sourceSeriesInstanceUid, "1.2.3.1")
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "done", "delivery has its own status")
        XCTAssertEqual(try tables.failures().filter { $0.stage == "deliver" }.map(\.reason),
                       ["C-STORE to PACS@127.0.0.1:11112: refused"])

        // The resend's delivery succeeds: the same rows, sent.
        report.attempts = 1
        try harness.publish(StatusEvent(jobId: job.jobId, stage: "deliver", .delivered(report)), to: .report)
        try waitUntil { worker.deliveriesSettled == 5 }
        rows = try tables.dicomOutputs(studyInstanceUid: "1.2.3")
        XCTAssertEqual(rows.map(\.status), [.sent, .sent])
        XCTAssertEqual(rows.map(\.error), [nil, nil])
        XCTAssertEqual(try connection.execute("SELECT count(*) AS n FROM dicom_outputs WHERE sent_at IS NOT NULL").rows[0].int("n"), 2)
        XCTAssertEqual(try ReporterStage.deliverJob("1.2.3", in: tables), job, "what `reporter resend` publishes")
        XCTAssertNil(try ReporterStage.deliverJob("9.9.9", in: tables))
    }
}

func waitForGet(_ broker: BrokerConnection, queue: String, timeout: Double = 10) throws -> Delivery? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let delivery = try broker.get(queue: queue) { return delivery }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return nil
}

func waitUntil(timeout: Double = 30, file: StaticString = #filePath, line: UInt = #line,
               _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.1)
    }
    XCTFail("condition not met within \(timeout) s", file: file, line: line)
}
