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

    private let ingested = StatusEvent(jobId: "ingest-job", stage: "ingest", .ingested(.init(
        source: "/export/00042", patientId: "00042", studyInstanceUid: "1.2.3",
        series: [SeriesSummary(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18)],
        warnings: [])))

    /// A reporter on a private topology and schema, and a connection to that schema.
    private func startReporter() throws -> (WorkerHarness, Worker<ReporterStage>, ResultsTables) {
        let harness = try WorkerHarness()
        self.harness = harness
        let schema = TestServers.uniqueName("fleet_reporter")
        self.schema = schema
        let reporter = ReporterStage(conninfo: try TestServers.postgresConninfo(), schema: schema,
                                     queues: harness.queues, logger: Logger(label: "test-reporter"))
        try reporter.prepare()
        let connection = try PostgresConnection(conninfo: try TestServers.postgresConninfo())
        try connection.execute("SET search_path TO \"\(schema)\"")
        return (harness, try harness.start(reporter), ResultsTables(connection))
    }

    func testStatusEventsAndDeadLettersBecomeRows() throws {
        let (harness, worker, tables) = try startReporter()

        try harness.publish(ingested)
        let classified = StatusEvent(jobId: "classify-job", stage: "classify", .classified(flair, SeriesResult(
            weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 12,
            chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.625)], noChunksReason: nil)))
        try harness.publish(classified)
        try harness.publish(classified)  // a duplicate delivery
        // Undecodable on `classify`: nobody consumes it here, so reject it by hand as a worker would.
        try harness.publish(Data(#"{"schema":7,"kind":"classify","job_id":"future"}"#.utf8), to: .classify)
        let bad = try XCTUnwrap(try waitForGet(harness.broker, queue: harness.queues.classify))
        try harness.broker.reject(bad, requeue: false)

        try waitUntil { worker.deliveriesSettled == 4 }
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
        XCTAssertEqual(SubmissionExport.csv(try tables.patientPredictions().map {
            SubmissionExport.Row(patientId: $0.patientId, probability: $0.probability)
        }, fillMissing: nil),
                       "BraTS21ID,MGMT_value\n00042,0.625\n")
    }

    /// A `classified` event under the ingest role's key (sent by the admin user, whom the broker lets use any key)
    /// is acked but not applied: the probability stays, the failure is recorded and counted.
    func testClassifiedEventUnderAnotherRolesKeyIsRecordedNotApplied() throws {
        let (harness, worker, tables) = try startReporter()
        func classified(_ probability: Double) -> StatusEvent {
            StatusEvent(jobId: "classify-\(probability)", stage: "classify", .classified(flair, SeriesResult(
                weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 12,
                chunks: [ChunkResult(index: 0, firstInstance: 0, probability: probability)], noChunksReason: nil)))
        }
        let refusedBefore = Self.refusedCount()
        try harness.publish(ingested)
        try harness.publish(classified(0.25))
        try harness.publish(classified(0.999), from: "ingest")
        try waitUntil { worker.deliveriesSettled == 3 }

        XCTAssertEqual(try tables.patientPredictions().first?.probability, 0.25, "the forged 0.999 was not applied")
        XCTAssertEqual(try tables.rowCounts()["chunk_predictions"], 1)
        let failures = try tables.failures()
        XCTAssertEqual(failures.count, 1, "\(failures)")
        XCTAssertEqual(failures.first?.stage, "report")
        XCTAssertEqual(failures.first?.jobId, "classify-0.999")
        XCTAssertEqual(failures.first?.reason, "status event 'classified' arrived from the ingest role's key; refused")
        XCTAssertEqual(Self.refusedCount(), refusedBefore + 1)
        XCTAssertEqual(try harness.broker.messageCount(queue: harness.queues.report), 0, "acked, not requeued")
        XCTAssertEqual(try harness.broker.messageCount(queue: QueueNames.deadLetter(of: harness.queues.report)), 0)
    }

    /// A study turning `done` publishes its `deliver` job with what the reporter knows (artifact refs, weights,
    /// probabilities); the DICOM edge's events become `dicom_outputs` rows, and a failed delivery leaves the
    /// study done.
    func testDoneStudyPublishesItsDeliverJobAndDeliveryEventsBecomeDicomOutputRows() throws {
        let (harness, worker, tables) = try startReporter()

        let t2w = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.2", mriType: "T2w")
        try harness.publish(StatusEvent(jobId: "ingest-job", stage: "ingest", .ingested(.init(
            source: "/export/00042", patientId: "00042", studyInstanceUid: "1.2.3",
            series: [SeriesSummary(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18),
                     SeriesSummary(seriesInstanceUid: "1.2.3.2", mriType: "T2w", slicesTotal: 20, slicesKept: 18)],
            warnings: []))))
        let sources = ["series.json": ArtifactRef(key: "ingest/a/series.json", sha256: "aa"),
                       "masks.npy": ArtifactRef(key: "segment/b/masks.npy", sha256: "bb")]
        try harness.publish(StatusEvent(jobId: "classify-flair", stage: "classify", .classified(flair, SeriesResult(
            weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 12,
            chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.625)], noChunksReason: nil,
            sources: sources))))
        try waitUntil { worker.deliveriesSettled == 2 }
        XCTAssertNil(try harness.broker.get(queue: harness.queues.deliver), "not before the study is done")
        try harness.publish(StatusEvent(jobId: "segment-t2w", stage: "segment", .failed(.series(t2w), error: "model error")))

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
                                        .deliveryFailed(report, error: "C-STORE to PACS@127.0.0.1:11112: refused")))
        try waitUntil { worker.deliveriesSettled == 4 }
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
        try harness.publish(StatusEvent(jobId: job.jobId, stage: "deliver", .delivered(report)))
        try waitUntil { worker.deliveriesSettled == 5 }
        rows = try tables.dicomOutputs(studyInstanceUid: "1.2.3")
        XCTAssertEqual(rows.map(\.status), [.sent, .sent])
        XCTAssertEqual(rows.map(\.error), [nil, nil])
        XCTAssertEqual(try tables.connection.execute("SELECT count(*) AS n FROM dicom_outputs WHERE sent_at IS NOT NULL").rows[0].int("n"), 2)
        XCTAssertEqual(try ReporterStage.deliverJob("1.2.3", in: tables), job, "what `reporter resend` publishes")
        XCTAssertNil(try ReporterStage.deliverJob("9.9.9", in: tables))
    }
    private static func refusedCount() -> Int {
        let line = FleetMetrics.prometheusText().split(separator: "\n")
            .first { $0.hasPrefix("mgmt_status_events_refused_total ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }
}

extension WorkerHarness {
    /// Publishes a status event as `stage` does: under that stage's report key (by default the stage that may send
    /// it). Only the admin user of the tests may use another stage's key.
    func publish(_ event: StatusEvent, from stage: String? = nil) throws {
        try broker.publish(OutgoingMessage(routingKey: queues.reportKey(of: stage ?? ReporterStage.sendingStage(of: event)),
                                           body: MessageCodec.encode(event)), to: configuration.exchange)
    }
}

/// The reporter believes a status only under its sending stage's report key (issue 14: a forged `classified`
/// event set a patient's probability to 0.999).
final class StatusEventOriginTests: XCTestCase {
    private let queues = QueueNames(report: "rpt")
    private lazy var reporter = ReporterStage(conninfo: "", queues: queues, logger: Logger(label: "test"))
    private let series = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.1",
                                        mriType: "FLAIR")

    private func events() -> [StatusEvent] {
        [StatusEvent(jobId: "i", stage: "ingest", .ingested(.init(source: "/export/a", patientId: "00042",
                                                                  studyInstanceUid: "1.2.3", series: [], warnings: []))),
         StatusEvent(jobId: "s", stage: "segment", .segmented(series, weightsSha256: "seg")),
         StatusEvent(jobId: "c", stage: "classify", .classified(series, SeriesResult(
             weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 1,
             chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.999)], noChunksReason: nil))),
         StatusEvent(jobId: "v", stage: "classify3d", .volumeClassified(series, VolumeResult(
             weightsSha256: "cls3d", probability: 0.999, slices: 20))),
         StatusEvent(jobId: "d", stage: "deliver", .delivered(DicomDelivery(
             patientId: "00042", studyInstanceUid: "1.2.3", objects: [], destination: nil, attempts: 0, warnings: [])))]
    }

    private func decode(_ event: StatusEvent, key: String) throws -> ReportInput {
        try reporter.decode(IncomingMessage(body: MessageCodec.encode(event), queue: "rpt", routingKey: key))
    }

    func testEachStatusIsBelievedOnlyFromItsStagesKey() throws {
        for (event, stage) in zip(events(), QueueNames.reportingStages) {
            for sender in QueueNames.reportingStages {
                let input = try decode(event, key: "rpt.\(sender)")
                switch input {
                case .status(let accepted):
                    XCTAssertEqual(sender, stage, "\(event.outcome.status) accepted from \(sender)")
                    XCTAssertEqual(accepted, event)
                case .refused(_, let reason):
                    XCTAssertNotEqual(sender, stage, "\(event.outcome.status) refused from its own stage")
                    XCTAssertEqual(reason, "status event '\(event.outcome.status)' arrived from the \(sender) role's key; refused")
                case .deadLetter:
                    XCTFail("a status event is not a dead letter")
                }
            }
        }
    }

    func testFailuresAreBelievedFromTheStageTheyName() throws {
        let failed = StatusEvent(jobId: "f", stage: "segment", .failed(.series(series), error: "bad"))
        guard case .status = try decode(failed, key: "rpt.segment") else { return XCTFail("own failure refused") }
        guard case .refused(_, let reason) = try decode(failed, key: "rpt.classify") else {
            return XCTFail("a failure naming segment accepted from classify")
        }
        XCTAssertEqual(reason, "status event 'failed' arrived from the classify role's key; refused")
        let reporterNamed = StatusEvent(jobId: "r", stage: "report", .failed(.series(series), error: "bad"))
        for sender in QueueNames.reportingStages {
            guard case .refused = try decode(reporterNamed, key: "rpt.\(sender)") else {
                return XCTFail("a failure naming no reporting stage accepted from \(sender)")
            }
        }
    }

    func testKeysOfNoReportingStageAreRefused() throws {
        for key in ["rpt", "report.classify", "rpt.report", "rpt.classify.x"] {
            guard case .refused(_, let reason) = try decode(events()[2], key: key) else {
                return XCTFail("classified accepted from key \(key)")
            }
            XCTAssertEqual(reason, "status event 'classified' arrived from key '\(key)', no reporting role's; refused")
        }
    }

    func testReportQueueIsBoundWithEveryReportingStagesKey() {
        XCTAssertEqual(queues.routingKeys(of: "rpt"), ["rpt.ingest", "rpt.segment", "rpt.classify", "rpt.classify3d", "rpt.deliver"])
        XCTAssertEqual(queues.routingKeys(of: "studies"), ["studies"])
        XCTAssertEqual(queues.reportingStage(ofKey: "rpt.segment"), "segment")
        XCTAssertNil(queues.reportingStage(ofKey: "rpt"))
    }

    func testDeadLetterNamesTheKeyItWasPublishedWith() throws {
        let input = try reporter.decode(IncomingMessage(body: MessageCodec.encode(events()[2]), queue: "rpt.dead",
                                                        routingKey: "rpt.ingest"))
        guard case .deadLetter(let letter) = input else { return XCTFail("not a dead letter: \(input)") }
        XCTAssertEqual(letter.routingKey, "rpt.ingest")
        XCTAssertEqual(letter.reason, "dead-lettered (dead-lettered) [published with key 'rpt.ingest']")
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
