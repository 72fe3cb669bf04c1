import Domain
import Foundation
import Logging
import ResultsStore
import XCTest

final class ResultsTablesTests: XCTestCase {
    private var schema: String?

    override func tearDown() {
        if let schema { TestServers.dropSchema(schema) }
    }

    private let flair = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.1",
                                      mriType: "FLAIR")
    private let t2 = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.2",
                                   mriType: "T2w")

    func testMigrationsAreRecordedAndAppliedOnce() throws {
        let (connection, schema) = try TestServers.migratedSchema("fleet_migrate")
        self.schema = schema
        let again = try ResultsSchema.migrate(connection, schema: schema, logger: Logger(label: "test"))
        XCTAssertEqual(again, [])
        let versions = try connection.execute("SELECT version FROM schema_migrations ORDER BY version").rows
            .map { try $0.int("version") }
        XCTAssertEqual(versions, ResultsSchema.migrations.map(\.version))
    }

    func testAggregationAndIdempotentReplay() throws {
        let (connection, schema) = try TestServers.migratedSchema("fleet_tables")
        self.schema = schema
        let tables = ResultsTables(connection)
        func replayAll() throws {
            try connection.withTransaction { _ in
                try tables.recordStudyIngested(
                    studyInstanceUid: "1.2.3", patientId: "00042", source: "export/00042",
                    series: [.init(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 60, slicesKept: 50),
                             .init(seriesInstanceUid: "1.2.3.2", mriType: "T2w", slicesTotal: 40, slicesKept: 30)],
                    warnings: nil, error: nil)
            }
            try connection.withTransaction { _ in
                try tables.recordSeriesClassified(
                    flair, result: SeriesResult(
                        weightsSha256: "clsF", segmentationWeightsSha256: "seg", slicesSelected: 40,
                        chunks: [.init(index: 0, firstInstance: 0, probability: 0.2),
                                 .init(index: 1, firstInstance: 5, probability: 0.4)], noChunksReason: nil),
                    computedAt: "2026-11-23T10:00:00.000Z")
            }
        }
        try replayAll()
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "ingested", "T2w is still in flight")
        var patient = try XCTUnwrap(try tables.patientPredictions().first)
        XCTAssertEqual(patient.probability ?? -1, 0.3, accuracy: 1e-12)
        XCTAssertEqual(patient.nTypes, 1)
        XCTAssertEqual(patient.nChunks, 2)

        try connection.withTransaction { _ in
            try tables.recordSeriesClassified(
                t2, result: SeriesResult(
                    weightsSha256: "clsT", segmentationWeightsSha256: "seg", slicesSelected: 35,
                    chunks: [.init(index: 0, firstInstance: 0, probability: 0.9)], noChunksReason: nil),
                computedAt: "2026-11-23T10:00:01.000Z")
        }
        // A replay of everything (a redelivery) and a late `segmented` event must change nothing.
        try replayAll()
        try connection.withTransaction { _ in
            try tables.recordSeriesStatus(t2, status: .segmented, segmentationWeightsSha256: "seg")
        }
        patient = try XCTUnwrap(try tables.patientPredictions().first)
        XCTAssertEqual(patient.probability ?? -1, (0.3 + 0.9) / 2, accuracy: 1e-12, "mean over types of series means")
        XCTAssertEqual(patient.nTypes, 2)
        XCTAssertEqual(patient.nChunks, 3)
        XCTAssertEqual(patient.weightsSha256, ["clsF", "clsT"])
        XCTAssertNil(patient.reason)
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "done")
        XCTAssertEqual(try tables.seriesStates(studyInstanceUid: "1.2.3").map(\.status), ["classified", "classified"])
        XCTAssertEqual(try tables.rowCounts(), ["studies": 1, "series": 2, "chunk_predictions": 3,
                                                "series_predictions": 2, "patient_predictions": 1, "failures": 0])
        XCTAssertEqual(try tables.chunkPredictions(patientId: "00042").map(\.chunk.probability), [0.2, 0.4, 0.9])
    }

    func testPatientWithoutChunksGetsNullAndReason() throws {
        let (connection, schema) = try TestServers.migratedSchema("fleet_nochunks")
        self.schema = schema
        let tables = ResultsTables(connection)
        try connection.withTransaction { _ in
            try tables.recordStudyIngested(
                studyInstanceUid: "1.2.3", patientId: "00042", source: nil,
                series: [.init(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 10, slicesKept: 8),
                         .init(seriesInstanceUid: "1.2.3.2", mriType: "T2w", slicesTotal: 10, slicesKept: 8)],
                warnings: nil, error: nil)
            try tables.recordSeriesClassified(
                flair, result: SeriesResult(
                    weightsSha256: "clsF", segmentationWeightsSha256: "seg", slicesSelected: 0, chunks: [],
                    noChunksReason: "no slice passed the tumour selection"),
                computedAt: "2026-11-23T10:00:00.000Z")
            try tables.recordSeriesStatus(t2, status: .failed, error: "model error: weights missing")
            try tables.recordFailure(kind: .failed, stage: "segment", jobId: "job-t2", patientId: "00042",
                                     seriesInstanceUid: "1.2.3.2", reason: "model error: weights missing")
            try tables.recordFailure(kind: .failed, stage: "segment", jobId: "job-t2", patientId: "00042",
                                     seriesInstanceUid: "1.2.3.2", reason: "model error: weights missing")
        }
        let patient = try XCTUnwrap(try tables.patientPredictions().first)
        XCTAssertNil(patient.probability)
        XCTAssertEqual(patient.nTypes, 0)
        XCTAssertEqual(patient.reason, "no chunks in any MRI type (FLAIR: no slice passed the tumour selection; "
                                       + "T2w: model error: weights missing)")
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "done")
        XCTAssertEqual(try tables.failures().count, 1, "a replayed failure is one row")
    }
}
