import ResultsStore
import XCTest

/// The dicom_outputs table (migration 2) against the real PostgreSQL.
final class DicomOutputsTableTests: XCTestCase {
    private var schema: String?

    override func tearDown() {
        if let schema { TestServers.dropSchema(schema) }
    }

    func testOutputsAreUpsertedAndDeliveriesRecorded() throws {
        let (connection, schema) = try TestServers.migratedSchema("dicom_outputs")
        self.schema = schema
        let tables = ResultsTables(connection)
        let seg = ResultsTables.DicomOutput(sopInstanceUid: "2.25.1", studyInstanceUid: "1.2.3", seriesInstanceUid: "2.25.10",
                                            sourceSeriesInstanceUid: "1.2.3.1", kind: .segmentation, storeKey: "dicom/1.2.3/seg-1.dcm")
        let sr = ResultsTables.DicomOutput(sopInstanceUid: "2.25.2", studyInstanceUid: "1.2.3", seriesInstanceUid: "2.25.20",
                                           sourceSeriesInstanceUid: nil, kind: .report, storeKey: "dicom/1.2.3/sr.dcm")
        try tables.recordDicomOutput(seg)
        try tables.recordDicomOutput(sr)
        try tables.recordDicomDelivery(sopInstanceUid: "2.25.1", destination: "PACS@127.0.0.1:104", sent: true,
                                       attempts: 1, error: nil)
        try tables.recordDicomDelivery(sopInstanceUid: "2.25.2", destination: "PACS@127.0.0.1:104", sent: false,
                                       attempts: 5, error: "connection refused")
        var rows = try tables.dicomOutputs(studyInstanceUid: "1.2.3")
        XCTAssertEqual(rows.map(\.kind), [.segmentation, .report])
        XCTAssertEqual(rows.map(\.status), [.sent, .failed])
        XCTAssertEqual(rows[1].error, "connection refused")
        XCTAssertEqual(rows[1].attempts, 5)
        let sentAt = try connection.execute("SELECT sop_instance_uid FROM dicom_outputs WHERE sent_at IS NOT NULL").rows
            .map { try $0.string("sop_instance_uid") }
        XCTAssertEqual(sentAt, ["2.25.1"])

        // A re-run writes the same UIDs: one row each, delivery state reset until it is sent again.
        try tables.recordDicomOutput(sr)
        rows = try tables.dicomOutputs(studyInstanceUid: "1.2.3")
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[1].status, .stored)
        XCTAssertNil(rows[1].error)
    }
}
