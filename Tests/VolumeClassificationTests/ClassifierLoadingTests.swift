import ArrayFiles
import Crypto
import Domain
import Foundation
import Inference
import SeriesFiles
import VolumeClassification
import XCTest

final class ClassifierLoadingTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("classifier3d-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func fixtures() throws -> SafeTensorsFile { try ParityTests.fixtures.get() }

    private func seed() throws -> UInt64 { try XCTUnwrap(UInt64(XCTUnwrap(fixtures().metadata["seed"]))) }

    /// The seeded state_dict of `depth` as a model directory's weights file for `type`.
    @discardableResult
    private func writeWeights(depth: Int, type: MRIType = .flair, edit: (inout [String: Tensor]) -> Void = { _ in }) throws -> URL {
        let source = SeededWeightSource(baseSeed: try seed())
        _ = try ResNet3D(weights: source, depth: depth, stemStride: 1)
        var tensors = source.stateDict()
        edit(&tensors)
        let url = directory.appendingPathComponent(Classifier3D.fileName(mriType: type))
        try SafeTensorsWriter.write(tensors, to: url)
        return url
    }

    private func phantom() throws -> SeriesVolume<Float> {
        let tensor = try fixtures().tensor("phantom")
        return SeriesVolume(slices: tensor.shape[0], rows: tensor.shape[1], columns: tensor.shape[2], values: tensor.storage)
    }

    /// Swift asks for exactly MONAI's state_dict keys and shapes (tools/reference/cls3d_fixtures.py's manifest).
    func testKeysAndShapesEqualMONAIs() throws {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("manifest.json"))
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [[Any]]])
        for depth in [18, 34] {
            let expected = try XCTUnwrap(manifest["\(depth)"]).map { entry in
                "\(entry[0]) \(entry[1] as? [Int] ?? [-1])"
            }
            let actual = try ResNet3DArchitecture.manifest(depth: depth).map { "\($0.key) \($0.shape)" }
            XCTAssertEqual(Set(actual), Set(expected), "resnet\(depth)")
            XCTAssertEqual(actual.count, expected.count, "resnet\(depth): a key asked for twice")
        }
    }

    /// The model directory's weights and classifier3d.json give MONAI's logit, with the file's SHA-256.
    func testModelDirectoryGivesMONAIsLogit() throws {
        let url = try writeWeights(depth: 18)
        try Data(#"{"size": 64}"#.utf8).write(to: directory.appendingPathComponent(Classifier3DConfiguration.fileName))
        XCTAssertEqual(Classifier3D.weightsURL(modelsDirectory: directory, mriType: .flair), url)
        XCTAssertNil(Classifier3D.weightsURL(modelsDirectory: directory, mriType: .t2w))
        let classifier = try Classifier3D(modelsDirectory: directory, mriType: .flair, threads: 2)
        XCTAssertEqual(classifier.configuration.size, 64)
        XCTAssertEqual(classifier.weightsSha256, SHA256.hash(data: try Data(contentsOf: url)).map { String(format: "%02x", $0) }.joined())
        let expected = try fixtures().tensor("logits").storage[0]  // the "default" case at S = 64
        XCTAssertEqual(try classifier.logit(of: phantom()), expected, accuracy: 1e-4)
    }

    func testWeightsThatAreNotTheNetworksAreRefused() throws {
        try Data(#"{"size": 64}"#.utf8).write(to: directory.appendingPathComponent(Classifier3DConfiguration.fileName))
        let cases: [(String, (inout [String: Tensor]) -> Void)] = [
            ("an extra key", { $0["conv_seg.0.weight"] = Tensor(zeros: [2]) }),
            ("a missing key", { $0["layer3.1.bn2.running_var"] = nil }),
            ("a wrong shape", { $0["fc.weight"] = Tensor(zeros: [2, 512]) }),
        ]
        for (label, edit) in cases {
            try writeWeights(depth: 18, edit: edit)
            XCTAssertThrowsError(try Classifier3D(modelsDirectory: directory, mriType: .flair), label)
        }
        try writeWeights(depth: 18)
        try Data(#"{"depth": 34}"#.utf8).write(to: directory.appendingPathComponent(Classifier3DConfiguration.fileName))
        XCTAssertThrowsError(try Classifier3D(modelsDirectory: directory, mriType: .flair), "resnet18 weights for a resnet34")
    }

    func testVolumesItCannotClassifyAreClearErrors() throws {
        var configuration = Classifier3DConfiguration()
        configuration.size = 16
        let preprocessing = VolumePreprocessing(configuration)
        let constant = SeriesVolume(slices: 4, rows: 5, columns: 6, values: [Float](repeating: 7, count: 120))
        var notFinite = SeriesVolume(slices: 4, rows: 5, columns: 6, values: (0..<120).map(Float.init))
        notFinite.values[17] = .nan
        let empty = SeriesVolume<Float>(slices: 0, rows: 5, columns: 6, values: [])
        for (label, volume) in [("constant", constant), ("NaN", notFinite), ("empty", empty)] {
            XCTAssertThrowsError(try preprocessing.cube(of: volume), label) { error in
                guard case Classifier3DError.invalidVolume = error else { return XCTFail("\(label): \(error)") }
            }
        }
        // A single-slice series is a volume like any other.
        XCTAssertEqual(try preprocessing.cube(of: SeriesVolume(slices: 1, rows: 5, columns: 6, values: (0..<30).map(Float.init))).count,
                       16 * 16 * 16)
    }

    func testDemoWeightsLoad() throws {
        let url = try Classifier3D.writeDemo(.t1wCE, to: directory)
        XCTAssertEqual(url.lastPathComponent, "classifier3d-T1wCE.safetensors")
        XCTAssertEqual(try SafeTensorsFile(contentsOf: url).metadata["demo"], "seeded random weights, not trained")
        let classifier = try Classifier3D(modelsDirectory: directory, mriType: .t1wCE)
        XCTAssertEqual(classifier.network.depth, 18)
    }
}
