import ArrayFiles
import Classification
import Crypto
import Foundation
import Inference
import XCTest

final class StudyClassifierTests: XCTestCase {
    func testPatientProbabilityIsTheMeanOverSeriesWithChunks() {
        func series(_ type: String, _ probabilities: [Double], _ status: SeriesOutcome) -> SeriesClassification {
            SeriesClassification(
                mriType: type, slicesTotal: 10, slicesNonempty: 9, kept: probabilities.isEmpty ? [] : [4],
                chunks: probabilities.enumerated().map { ChunkProbability(index: $0, first: 4 + 5 * $0, probability: $1) },
                status: status, reason: nil, tta: .zoom, weightsSHA256: nil)
        }
        let patient = PatientClassification(patientID: "7", series: [
            series("FLAIR", [0.2, 0.4], .classified), series("T1w", [], .noInformativeSlice),
            series("T2w", [0.9], .classified), series("T1wCE", [], .skipped),
        ])
        XCTAssertEqual(try XCTUnwrap(patient.probability), (0.3 + 0.9) / 2, accuracy: 1e-12)
        XCTAssertNil(patient.reason)

        let none = PatientClassification(patientID: "8", series: [series("T1w", [], .noInformativeSlice), series("T2w", [], .skipped)])
        XCTAssertNil(none.probability)
        XCTAssertEqual(none.reason, "no series produced chunks: T1w no_informative_slice, T2w skipped")
        let json = try? JSONSerialization.jsonObject(with: none.jsonData()) as? [String: Any]
        XCTAssertTrue(json?["probability"] is NSNull)
        XCTAssertEqual(json?["patient_id"] as? String, "8")
    }

    /// The CLI's path: weights from a model directory (sha256 recorded), classification.json written, and a
    /// type without weights reported skipped.
    func testStudyRunWithAndWithoutWeights() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cls-study-\(UUID().uuidString)")
        let study = work.appendingPathComponent("study"), models = work.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        try FileManager.default.copyItem(at: Fixtures.url("series/study"), to: study)

        let skipped = try StudyClassifier(modelsDirectory: models).run(studyDirectory: study)
        XCTAssertNil(skipped.probability)
        XCTAssertEqual(skipped.series.map(\.status), [.skipped])
        XCTAssertEqual(skipped.series.first?.slicesTotal, 52)

        var tensors: [String: Tensor] = [:]
        for (key, shape) in SequenceClassifier.manifest() {
            tensors[key] = SeededWeights.tensor(key: key, shape: shape, rule: SequenceClassifier.seededRule(key: key, shape: shape),
                                                baseSeed: Fixtures.baseSeed)
        }
        let weightsURL = models.appendingPathComponent("classifier-T2w.safetensors")
        try SafeTensorsWriter.write(tensors, to: weightsURL)
        let sha = SHA256.hash(data: try Data(contentsOf: weightsURL)).map { String(format: "%02x", $0) }.joined()

        let expected = try Fixtures.json("series/expected.json", as: SeriesPipelineTests.Expected.self)
        let patient = try StudyClassifier(modelsDirectory: models, augmentation: .none, threads: 2).run(studyDirectory: study)
        XCTAssertEqual(patient.patientID, "00042")
        let series = try XCTUnwrap(patient.series.first)
        XCTAssertEqual(series.weightsSHA256, sha)
        XCTAssertEqual(series.tta, TestTimeAugmentation.none)
        XCTAssertEqual(series.kept, expected.kept.map(Optional.some))
        XCTAssertEqual(try XCTUnwrap(patient.probability), expected.none.reduce(0, +) / 3, accuracy: 1e-5)
        let written = try JSONDecoder().decode(
            SeriesClassification.self, from: Data(contentsOf: study.appendingPathComponent("T2w/classification.json")))
        XCTAssertEqual(written, series)
    }
}
