import ArrayFiles
import Foundation
import Inference
import SeriesFiles
import VolumeClassification
import XCTest

/// Parity with the reference on the PyTorch stack (tools/reference/cls3d_fixtures.py: NumPy 1.24, PyTorch 1.13,
/// MONAI 1.4) at S = 64 on a phantom series, with the seeded weights both sides build.
final class ParityTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let configuration: Classifier3DConfiguration
    }

    static let fixtures = Result { try SafeTensorsFile(contentsOf: fixturesDirectory.appendingPathComponent("parity.safetensors")) }

    private var fixtures: SafeTensorsFile { get throws { try Self.fixtures.get() } }

    private func phantom() throws -> SeriesVolume<Float> {
        let tensor = try fixtures.tensor("phantom")
        XCTAssertEqual(tensor.shape.count, 3)
        return SeriesVolume(slices: tensor.shape[0], rows: tensor.shape[1], columns: tensor.shape[2], values: tensor.storage)
    }

    private func metadata<T: Decodable>(_ key: String, as type: T.Type) throws -> T {
        try DocumentJSONDecoding.decode(type, from: XCTUnwrap(fixtures.metadata[key]))
    }

    private func cases() throws -> [String: (index: Int, configuration: Classifier3DConfiguration)] {
        let cases = try metadata("cases", as: [Case].self)
        return Dictionary(uniqueKeysWithValues: cases.enumerated().map { ($1.name, ($0, $1.configuration)) })
    }

    func testQuantilesEqualNumPy() throws {
        let expected = try metadata("quantiles", as: [String].self).map { try XCTUnwrap(Double($0)) }
        let values = try phantom().values
        let qs = [0.01, 0.99, 0.8, 0.85, 0.999]
        XCTAssertEqual(expected.count, qs.count)
        for (q, wanted) in zip(qs, expected) {
            XCTAssertEqual(VolumePreprocessing.quantiles(values, q, q).0, wanted, "quantile \(q)")
        }
    }

    func testPreprocessedCubeMatchesWithAndWithoutCrop() throws {
        let cases = try cases()
        let stride = try XCTUnwrap(Int(XCTUnwrap(fixtures.metadata["sample_stride"])))
        let volume = try phantom()
        let preprocessing = VolumePreprocessing(try XCTUnwrap(cases["default"]).configuration)
        let crop = VolumePreprocessing.projectionCrop(try preprocessing.resizedCube(of: volume), size: 64, threshold: 1e-6)
        XCTAssertEqual([[crop.0.lowerBound, crop.0.upperBound], [crop.1.lowerBound, crop.1.upperBound], [crop.2.lowerBound, crop.2.upperBound]],
                       try metadata("crop", as: [[Int]].self))
        for name in ["default", "no_crop"] {
            let cube = try VolumePreprocessing(try XCTUnwrap(cases[name]).configuration).cube(of: volume)
            XCTAssertEqual(cube.count, 64 * 64 * 64)
            let expected = try fixtures.tensor("cube.\(name)").storage
            let sample = Swift.stride(from: 0, to: cube.count, by: stride).map { cube[$0] }
            XCTAssertEqual(sample.count, expected.count)
            let difference = zip(sample, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(difference, 1e-5, "\(name): max |Δ| \(difference)")
            print("cube \(name): \(sample.count) values, max |Δ| = \(difference)")
        }
    }

    private func assertLogitMatches(_ name: String, threads: Int = 2) throws {
        let (index, configuration) = try XCTUnwrap(cases()[name])
        let expected = try fixtures.tensor("logits").storage[index]
        let network = try ResNet3D(weights: SeededWeightSource(baseSeed: seed), depth: configuration.depth,
                                   stemStride: Triple3D(configuration.stemStride[0], configuration.stemStride[1], configuration.stemStride[2]))
        let classifier = Classifier3D(network: network, configuration: configuration, weightsSha256: nil, threads: threads)
        let logit = try classifier.logit(of: phantom())
        XCTAssertEqual(logit, expected, accuracy: 1e-4, name)
        print("logit \(name): \(logit) vs \(expected), |Δ| = \(abs(logit - expected))")
        XCTAssertEqual(try classifier.probability(of: phantom()), 1 / (1 + exp(-expected)), accuracy: 1e-5, name)
    }

    private var seed: UInt64 { get throws { try XCTUnwrap(UInt64(XCTUnwrap(fixtures.metadata["seed"]))) } }

    func testLogitMatchesMONAI() throws { try assertLogitMatches("default") }
    func testLogitMatchesMONAIWithTheOldStemStride() throws { try assertLogitMatches("stem_1_2_2", threads: 1) }
    func testLogitMatchesMONAIWithoutTheCrop() throws { try assertLogitMatches("no_crop") }
    func testLogitMatchesMONAIResNet34() throws { try assertLogitMatches("resnet34") }
}

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

enum DocumentJSONDecoding {
    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
