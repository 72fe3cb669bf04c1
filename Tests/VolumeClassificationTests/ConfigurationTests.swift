import Domain
import Foundation
import Inference
import VolumeClassification
import XCTest

final class ConfigurationTests: XCTestCase {
    private func decode(_ json: String) throws -> Classifier3DConfiguration {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(json.utf8).write(to: directory.appendingPathComponent(Classifier3DConfiguration.fileName))
        return try Classifier3DConfiguration(modelsDirectory: directory)
    }

    func testAbsentFileAndAbsentKeysTakeTheBaselineValues() throws {
        let defaults = try Classifier3DConfiguration(modelsDirectory: URL(fileURLWithPath: "/nonexistent-\(UUID())"))
        XCTAssertEqual(defaults.size, 224)
        XCTAssertEqual(defaults.quantiles, [0.01, 0.99])
        XCTAssertEqual(defaults.cropThreshold, 1e-6)
        XCTAssertEqual(defaults.mean, 0.093)
        XCTAssertEqual(defaults.std, 0.214)
        XCTAssertEqual(defaults.stemStride, [1, 1, 1])
        XCTAssertEqual(defaults.depth, 18)
        XCTAssertEqual(try decode("{}"), defaults)
        var expected = defaults
        expected.size = 128
        expected.stemStride = [1, 2, 2]
        XCTAssertEqual(try decode(#"{"size": 128, "stem_stride": [1, 2, 2]}"#), expected)
    }

    func testNullCropThresholdSwitchesTheCropOff() throws {
        XCTAssertNil(try decode(#"{"crop_threshold": null}"#).cropThreshold)
        XCTAssertEqual(try decode(#"{"crop_threshold": 0.001}"#).cropThreshold, 0.001)
    }

    func testBadValuesAndUnknownKeysAreErrors() {
        for json in [#"{"depth": 50}"#, #"{"size": 8}"#, #"{"quantiles": [0.99, 0.01]}"#, #"{"std": 0}"#,
                     #"{"stem_stride": [1, 3, 3]}"#, #"{"crop_treshold": 1e-6}"#, "not json"] {
            XCTAssertThrowsError(try decode(json), json) { error in
                guard case Classifier3DError.invalidConfiguration = error else { return XCTFail("\(json): \(error)") }
            }
        }
    }

    func testEncodingRoundTrips() throws {
        var configuration = Classifier3DConfiguration()
        configuration.cropThreshold = nil
        configuration.depth = 34
        let data = try DocumentJSON.encoder.encode(configuration)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains(#""crop_threshold" : null"#))
        XCTAssertEqual(try decode(String(decoding: data, as: UTF8.self)), configuration)
    }
}

final class OrderStatisticTests: XCTestCase {
    /// The quantiles' order statistics equal a sort's, with negative values, zeros of both signs, ties and extremes.
    func testQuantilesEqualTheSortedValues() {
        var values = SeededWeights.uniform(key: "quantile.values", count: 5_001, low: -3e4, high: 2e4, baseSeed: 5)
        values += [0, -0, 0, 0, -1e-30, 1e-30, Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude, 7, 7, 7]
        let sorted = values.sorted()
        for q in [0, 0.01, 0.25, 0.5, 0.77, 0.99, 1] {
            let virtual = Double(values.count - 1) * q
            let previous = Int(virtual.rounded(.down)), next = min(previous + 1, values.count - 1)
            let gamma = virtual - Double(previous)
            let (a, b) = (sorted[previous], sorted[next])
            let difference = Double(b - a)
            let expected = gamma >= 0.5 ? Double(b) - difference * (1 - gamma) : Double(a) + difference * gamma
            XCTAssertEqual(VolumePreprocessing.quantiles(values, q, q).0, expected, "q = \(q)")
        }
    }
}
