import ArrayFiles
import Classification
import Foundation
import Imaging
import Inference
import XCTest

/// Fixtures made by tools/reference/cls_fixtures.py (OpenCV + albumentations 1.1.0 + PyTorch).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// BASE_SEED in cls_fixtures.py.
    static let baseSeed: UInt64 = 0x5EED_C1A5

    static func url(_ path: String) -> URL { directory.appendingPathComponent(path) }

    static func json<T: Decodable>(_ path: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: url(path)))
    }

    static func floats(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let array = try NpyArray(contentsOf: url(path))
        return (array.shape, try XCTUnwrap(array.float32Values))
    }

    /// The full-architecture model with the fixtures' seeded weights, built once per test process.
    static let model: Result<SequenceClassifier, Error> = Result { try SequenceClassifier.seeded(baseSeed: baseSeed) }

    static func seededModel() throws -> SequenceClassifier { try model.get() }
}

/// max |a − b|.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
