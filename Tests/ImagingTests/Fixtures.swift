import ArrayFiles
import Foundation
import Imaging
import XCTest

/// Fixtures written by tools/reference/opencv_fixtures.py (OpenCV 4.8.1, albumentations 1.1.0).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The float inputs are the uint8 inputs times this factor, computed in float32 on both sides.
    static let floatFactor: Float = 1.0079

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name + ".npy") }
    static func array(_ name: String) throws -> NpyArray { try NpyArray(contentsOf: url(name)) }

    static func byteImage(_ name: String) throws -> Image<UInt8> {
        let images = try array(name).byteImages()
        XCTAssertEqual(images.count, 1, name)
        return images[0]
    }

    static func floatImage(_ name: String) throws -> Image<Float> {
        let images = try array(name).floatImages()
        XCTAssertEqual(images.count, 1, name)
        return images[0]
    }

    /// An H×W×C fixture split into its channel planes.
    static func bytePlanes(_ name: String) throws -> [Image<UInt8>] {
        let a = try array(name)
        return try Image.planes(interleaved: XCTUnwrap(a.uint8Values), width: a.shape[1], height: a.shape[0], channels: a.shape[2])
    }

    static func floatPlanes(_ name: String) throws -> [Image<Float>] {
        let a = try array(name)
        return try Image.planes(interleaved: XCTUnwrap(a.float32Values), width: a.shape[1], height: a.shape[0], channels: a.shape[2])
    }

    static func floatVersion(_ image: Image<UInt8>) throws -> Image<Float> {
        try Image(width: image.width, height: image.height, pixels: image.pixels.map { Float($0) * floatFactor })
    }
}

/// Asserts equal sizes and every pixel equal; reports the count and first position of mismatches.
func assertIdentical(_ actual: Image<UInt8>, _ expected: Image<UInt8>, _ label: String,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.width, expected.width, label, file: file, line: line)
    XCTAssertEqual(actual.height, expected.height, label, file: file, line: line)
    guard actual.pixels.count == expected.pixels.count else { return }
    let mismatches = zip(actual.pixels, expected.pixels).enumerated().filter { $0.element.0 != $0.element.1 }
    if let first = mismatches.first {
        XCTFail("\(label): \(mismatches.count) pixels differ; first at (x \(first.offset % expected.width), "
                + "y \(first.offset / expected.width)): \(first.element.0) vs OpenCV \(first.element.1)", file: file, line: line)
    }
}

/// The top `rows` rows of `image` (some float fixtures store only the top rows of a big output).
func topRows(_ image: Image<Float>, _ rows: Int) throws -> Image<Float> {
    try image.cropped(x: 0, y: 0, width: image.width, height: min(rows, image.height))
}

/// Asserts equal sizes and max |Δ| ≤ tolerance; returns the max |Δ|.
@discardableResult
func assertClose(_ actual: Image<Float>, _ expected: Image<Float>, tolerance: Float, _ label: String,
                 file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(actual.width, expected.width, label, file: file, line: line)
    XCTAssertEqual(actual.height, expected.height, label, file: file, line: line)
    guard actual.pixels.count == expected.pixels.count else { return .infinity }
    let maxDelta = zip(actual.pixels, expected.pixels).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(maxDelta, tolerance, "\(label): max |Δ| vs OpenCV", file: file, line: line)
    print("\(label): max |Δ| vs OpenCV = \(maxDelta)")
    return maxDelta
}
