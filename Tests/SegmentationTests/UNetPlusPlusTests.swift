import ArrayFiles
import Foundation
import Inference
import Segmentation
import XCTest

final class UNetPlusPlusTests: XCTestCase {
    /// The Swift model asks for exactly the keys and shapes of PyTorch's state_dict (859 keys).
    func testKeySetEqualsPyTorchManifest() throws {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("unetplusplus_densenet121.manifest.json"))
        let manifest = try JSONDecoder().decode([[String: ManifestValue]].self, from: data)
        var expected: [String: [Int]] = [:]
        for entry in manifest {
            guard case let .key(key)? = entry["key"], case let .shape(shape)? = entry["shape"] else { return XCTFail("bad manifest") }
            expected[key] = shape
        }
        XCTAssertEqual(expected.count, 859)
        let source = UNetPlusPlus.seededWeights()
        _ = try UNetPlusPlus(weights: source)
        XCTAssertEqual(source.recorded.count, 859, "no key asked twice")
        var actual: [String: [Int]] = [:]
        for entry in source.recorded { actual[entry.key] = entry.shape }
        XCTAssertEqual(Set(actual.keys).subtracting(expected.keys), [], "keys PyTorch lacks")
        XCTAssertEqual(Set(expected.keys).subtracting(actual.keys), [], "keys Swift lacks")
        XCTAssertEqual(actual, expected)
        XCTAssertEqual(source.recorded.filter { $0.key.hasSuffix("num_batches_tracked") }.count, 143)
    }

    /// Full architecture at 224×224 on seeded weights against PyTorch: two seeded inputs and a
    /// pre-processed brain-like phantom slice; max |Δ| ≤ 1e-4 on the sigmoid outputs.
    func testMatchesPyTorchOnFullArchitecture() throws {
        let model = try seededModel.get()
        let fixtures = try loadFixtures("model_parity.safetensors")
        var input = [Float]()
        for i in 0..<2 {
            input += SeededWeights.uniform(key: "input.\(i)", count: 3 * 224 * 224, low: -2, high: 2, baseSeed: 2021)
        }
        input += try fixtures.tensor("phantom_input", shape: [3, 224, 224]).storage
        let expected = try fixtures.tensor("outputs", shape: [3, 2, 224, 224])
        let output = try model.predict(Tensor(shape: [3, 3, 224, 224], storage: input), threads: 2,
                                       workspaces: [Workspace(), Workspace()])
        XCTAssertEqual(output.shape, [3, 2, 224, 224])
        let plane = 2 * 224 * 224
        for i in 0..<3 {
            let diff = maxAbsDifference(Array(output.storage[(i * plane)..<((i + 1) * plane)]),
                                        Array(expected.storage[(i * plane)..<((i + 1) * plane)]))
            XCTAssertLessThanOrEqual(diff, 1e-4, "input \(i): max |Δ| \(diff)")
            print("parity input \(i): max |Δ| = \(diff)")
        }
        // Single-threaded (threaded sgemm) path gives the same result.
        let single = try model.predict(Tensor(shape: [1, 3, 224, 224], storage: Array(input[0..<(3 * 224 * 224)])),
                                       threads: 1, workspaces: [Workspace()])
        XCTAssertLessThanOrEqual(maxAbsDifference(single.storage, Array(expected.storage[0..<plane])), 1e-4)
    }

    func testWrongInputShapeIsAnError() throws {
        let model = try seededModel.get()
        for shape in [[1, 3, 100, 100], [1, 1, 224, 224], [3, 224, 224]] {
            XCTAssertThrowsError(try model.predict(Tensor(zeros: shape), threads: 1, workspaces: [Workspace()])) { error in
                XCTAssertTrue("\(error)".contains("segmentation model input"), "\(error)")
            }
        }
    }

    /// Missing, wrong-shaped, unexpected and truncated weights give their errors, never a crash.
    func testBadWeightFiles() throws {
        let url = temporaryURL("segmentation.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(["encoder.features.conv0.weight": Tensor(zeros: [64, 3, 7, 7])], to: url)
        XCTAssertThrowsError(try UNetPlusPlus(contentsOf: url)) {
            XCTAssertEqual($0 as? SafeTensorsError, .missingKey("encoder.features.norm0.weight"))
        }
        try SafeTensorsWriter.write(["encoder.features.conv0.weight": Tensor(zeros: [64, 1, 7, 7])], to: url)
        XCTAssertThrowsError(try UNetPlusPlus(contentsOf: url)) {
            XCTAssertEqual($0 as? SafeTensorsError, .wrongShape(key: "encoder.features.conv0.weight", expected: [64, 3, 7, 7], found: [64, 1, 7, 7]))
        }
        var state = UNetPlusPlus.seededWeights().stateDictOfModel()
        state["decoder.blocks.x_9_9.conv1.0.weight"] = Tensor(zeros: [1])
        try SafeTensorsWriter.write(state, to: url)
        XCTAssertThrowsError(try UNetPlusPlus(contentsOf: url)) {
            XCTAssertEqual($0 as? SafeTensorsError, .unexpectedKeys(["decoder.blocks.x_9_9.conv1.0.weight"]))
        }
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 50_000_000)
        try handle.close()
        XCTAssertThrowsError(try UNetPlusPlus(contentsOf: url)) { error in
            guard case .truncated? = error as? SafeTensorsError else { return XCTFail("\(error)") }
        }
    }
}

extension SeededWeightSource {
    /// The full seeded state_dict of the model.
    func stateDictOfModel() -> [String: Tensor] {
        _ = try? UNetPlusPlus(weights: self)
        return stateDict()
    }
}

/// A manifest entry's value: a key or a shape.
enum ManifestValue: Decodable {
    case key(String), shape([Int])
    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let key = try? container.decode(String.self) { self = .key(key) } else { self = .shape(try container.decode([Int].self)) }
    }
}
