import ArrayFiles
import Classification
import Foundation
import Inference
import XCTest

/// The full ECA-NFNet-L0 + BiLSTM architecture with seeded weights against PyTorch (timm 0.9.16).
final class ModelParityTests: XCTestCase {
    func testKeySetEqualsPyTorchs() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("keys.json"))) as? [[Any]]
        let pytorch = try XCTUnwrap(expected).map { "\($0[0]) \($0[1] as? [Int] ?? [])" }
        let swift = SequenceClassifier.manifest().map { "\($0.key) \($0.shape)" }
        XCTAssertEqual(pytorch.count, 193)
        XCTAssertEqual(Set(swift), Set(pytorch))
        XCTAssertEqual(swift.count, pytorch.count)
    }

    /// Two seeded frames and the padding frame: embeddings within 1e-4 of the embedding scale.
    func testBackboneEmbeddingsMatchPyTorch() throws {
        let model = try Fixtures.seededModel()
        let side = 224, frameSize = 3 * side * side
        var frames: [Float] = []
        for i in 0..<2 {
            frames += SeededWeights.uniform(key: "input.frame\(i)", count: frameSize, low: -2.2, high: 2.7, baseSeed: Fixtures.baseSeed)
        }
        frames += [Float](repeating: 0, count: frameSize)
        frames.withUnsafeMutableBufferPointer { FrameBuilder.writePadding(to: $0.baseAddress! + 2 * frameSize) }

        let expected = try Fixtures.floats("embeddings/embeddings.npy")
        XCTAssertEqual(expected.shape, [3, 2304])
        for threads in [1, 2] {
            let embeddings = try model.backbone.embed(frames: frames, count: 3, threads: threads)
            for i in 0..<3 {
                let row = Array(embeddings[(i * 2304)..<((i + 1) * 2304)])
                let reference = Array(expected.values[(i * 2304)..<((i + 1) * 2304)])
                let scale = reference.map(abs).max() ?? 1
                XCTAssertGreaterThan(scale, 0.1)
                let relative = maxAbsDifference(row, reference) / scale
                print("embedding parity: frame \(i), \(threads) thread(s): max |Δ| / scale = \(relative)")
                XCTAssertLessThanOrEqual(relative, 1e-4, "frame \(i), \(threads) thread(s)")
            }
        }
    }

    struct HeadCase: Decodable { let name: String; let rows: [Int]; let probability: Double }

    /// LSTM + head on seeded embedding rows, full and padded sequences: within 1e-5 in probability.
    func testSequenceHeadMatchesPyTorch() throws {
        let model = try Fixtures.seededModel()
        let rows = SeededWeights.uniform(key: "input.embeddings", count: 36 * 2304, low: 0, high: 1.5, baseSeed: Fixtures.baseSeed)
        let projections = try model.lstm.project(inputs: rows, rows: 36)
        let cases = try Fixtures.json("head.json", as: [HeadCase].self)
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let p = try model.probability(projections, sequence: c.rows)
            XCTAssertEqual(Double(p), c.probability, accuracy: 1e-5, c.name)
        }
        XCTAssertThrowsError(try model.probability(projections, sequence: [0, 1]))
        XCTAssertThrowsError(try model.probability(projections, sequence: Array(1...34) + [36])) { error in
            XCTAssertEqual(error as? RecurrentLayerError, .rowOutOfRange(row: 36, rows: 36))
        }
    }

    /// Weights files with a missing, an extra or a misshapen tensor: clear errors.
    func testWeightsFilesNotMatchingTheModelAreRejected() throws {
        var complete: [String: Tensor] = [:]
        for (key, shape) in SequenceClassifier.manifest() { complete[key] = Tensor(zeros: shape) }
        var missing = complete
        missing["lstm.bias_hh_l0_reverse"] = nil
        var extra = complete
        extra["backbone.head.fc.weight"] = Tensor(zeros: [1000, 2304])
        var misshapen = complete
        misshapen["clf_head.weight"] = Tensor(zeros: [1, 4480])
        let cases: [([String: Tensor], SafeTensorsError)] = [
            (missing, .missingKey("lstm.bias_hh_l0_reverse")),
            (extra, .unexpectedKeys(["backbone.head.fc.weight"])),
            (misshapen, .wrongShape(key: "clf_head.weight", expected: [1, 8960], found: [1, 4480])),
        ]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cls-bad-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        for (tensors, expected) in cases {
            try SafeTensorsWriter.write(tensors, to: url)
            XCTAssertThrowsError(try ClassifierWeights(contentsOf: url)) { error in
                XCTAssertEqual(error as? SafeTensorsError, expected)
            }
        }
    }
}
