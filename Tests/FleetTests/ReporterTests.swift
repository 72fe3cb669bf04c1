import Broker
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

    func testStatusEventsAndDeadLettersBecomeRows() throws {
        let harness = try WorkerHarness()
        self.harness = harness
        let schema = TestServers.uniqueName("fleet_reporter")
        self.schema = schema
        let reporter = ReporterStage(conninfo: try TestServers.postgresConninfo(), schema: schema,
                                     queues: harness.queues, logger: Logger(label: "test-reporter"))
        try reporter.prepare()
        let worker = try harness.start(reporter)

        try harness.publish(StatusEvent(
            jobId: "ingest-job", stage: "ingest", status: .ingested, source: "/export/00042", patientId: "00042",
            studyInstanceUid: "1.2.3",
            studySeries: [SeriesSummary(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18)]),
            to: .report)
        let classified = StatusEvent(
            jobId: "classify-job", stage: "classify", status: .classified, series: flair,
            classification: SeriesResult(
                weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 12,
                chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.625)], noChunksReason: nil))
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
