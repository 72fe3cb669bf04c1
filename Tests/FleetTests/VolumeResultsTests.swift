import Domain
import Foundation
import ResultsStore
import XCTest

/// Results by model in the tables (migration 4): the 3D model's rows beside the 2D ones, a study done only when
/// both models reported, the 3D status moving only forward whatever the order of events, and the views.
final class VolumeResultsTests: XCTestCase {
    private var schema: String?

    override func tearDown() {
        if let schema { TestServers.dropSchema(schema) }
    }

    private let flair = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.1",
                                       mriType: "FLAIR")
    private let t2 = SeriesIdentity(patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.2",
                                    mriType: "T2w")

    private func classified2D(_ tables: ResultsTables, _ series: SeriesIdentity, _ probability: Double) throws {
        try tables.recordSeriesClassified(series, result: SeriesResult(
            weightsSha256: "cls", segmentationWeightsSha256: "seg", slicesSelected: 3,
            chunks: [ChunkResult(index: 0, firstInstance: 1, probability: probability)], noChunksReason: nil),
            computedAt: "2026-11-27T10:00:00.000Z")
    }

    func testStudyIsDoneOnlyWhenBothModelsReportedAndTheViewShowsThemSideBySide() throws {
        let (connection, schema) = try TestServers.migratedSchema("fleet_models")
        self.schema = schema
        let tables = ResultsTables(connection)
        // The FLAIR 3D result arrives before ingest's event: the later `pending` must not undo it.
        try tables.recordVolumeClassified(flair, result: VolumeResult(weightsSha256: "w3F", probability: 0.75, slices: 20),
                                          computedAt: "2026-11-27T10:00:00.000Z")
        try tables.recordStudyIngested(
            studyInstanceUid: "1.2.3", patientId: "00042", source: nil,
            series: [SeriesSummary(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18,
                                   models: [.nfnetLSTM, .resnet3d]),
                     SeriesSummary(seriesInstanceUid: "1.2.3.2", mriType: "T2w", slicesTotal: 20, slicesKept: 18,
                                   models: [.nfnetLSTM, .resnet3d])],
            warnings: nil, error: nil)
        try classified2D(tables, flair, 0.2)
        try classified2D(tables, t2, 0.4)
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "ingested", "T2w's 3D result is still pending")
        let inFlight = try connection.execute("SELECT series_finished, series_status FROM studies_in_flight").rows
        XCTAssertEqual(try inFlight[0].int("series_finished"), 1)
        XCTAssertEqual(try inFlight[0].string("series_status"),
                       "FLAIR:classified+resnet3d:classified T2w:classified+resnet3d:pending")
        // A late failure of the FLAIR 3D job does not undo its result; T2w's 3D job fails: the study ends.
        try tables.recordVolumeStatus(flair, status: .failed, error: "late duplicate")
        try tables.recordVolumeStatus(t2, status: .failed, error: "model error")
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "done")
        let statuses = try connection.execute(
            "SELECT resnet3d_status, resnet3d_error FROM series ORDER BY series_instance_uid").rows
        XCTAssertEqual(try statuses.map { try $0.string("resnet3d_status") }, ["classified", "failed"])
        XCTAssertNil(try statuses[0].optionalValue("resnet3d_error", as: String.self))

        let twoD = try XCTUnwrap(try tables.patientPredictions().first)
        XCTAssertEqual(try XCTUnwrap(twoD.probability), 0.3, accuracy: 1e-15)
        let threeD = try XCTUnwrap(try tables.patientPredictions(model: .resnet3d).first)
        XCTAssertEqual(threeD.probability, 0.75, "the failed T2w volume does not count")
        XCTAssertEqual(threeD.nTypes, 1)
        XCTAssertEqual(threeD.weightsSha256, ["w3F"])
        let view = try connection.execute(
            "SELECT nfnet_lstm, resnet3d, mean_probability, n_models FROM patient_predictions_by_model").rows
        XCTAssertEqual(try view[0].double("nfnet_lstm"), 0.3, accuracy: 1e-15)
        XCTAssertEqual(try view[0].double("resnet3d"), 0.75)
        XCTAssertEqual(try view[0].double("mean_probability"), (0.3 + 0.75) / 2, accuracy: 1e-15)
        XCTAssertEqual(try view[0].int("n_models"), 2)
    }

    func testWithoutThe3DModelNothingChangesAndLabelsAreEvaluatedPerModel() throws {
        let (connection, schema) = try TestServers.migratedSchema("fleet_models2d")
        self.schema = schema
        let tables = ResultsTables(connection)
        try tables.recordStudyIngested(
            studyInstanceUid: "1.2.3", patientId: "00042", source: nil,
            series: [SeriesSummary(seriesInstanceUid: "1.2.3.1", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18)],
            warnings: nil, error: nil)
        try classified2D(tables, flair, 0.6)
        XCTAssertEqual(try tables.studyStatus("1.2.3"), "done", "no 3D model for the series: the 2D result ends it")
        XCTAssertEqual(try tables.patientPredictions(model: .resnet3d), [], "no 3D row where the model never ran")
        try connection.execute("INSERT INTO patient_labels (patient_key, mgmt_value) VALUES ('42', 1)")
        let groups = try connection.execute("SELECT grp, outcome FROM labelled_predictions ORDER BY grp").rows
            .map { "\(try $0.string("grp")):\(try $0.string("outcome"))" }
        XCTAssertEqual(groups, ["FLAIR:scored", "patient:scored"])
    }
}
