import ArrayFiles
import Foundation
import Inference
import XCTest

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func loadFixtures(_ name: String) throws -> SafeTensorsFile {
    try SafeTensorsFile(contentsOf: fixturesDirectory.appendingPathComponent(name))
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func assertClose(_ actual: Tensor, _ expected: Tensor, tolerance: Float, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let diff = maxAbsDifference(actual.storage, expected.storage)
    XCTAssertLessThanOrEqual(diff, tolerance, "\(message): max |Δ| = \(diff)", file: file, line: line)
}

func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
}

/// Runs an op image by image over an NCHW tensor through the engine's feature-map API (a batch of one is an
/// image's CHW); `output` is one output image's (channels, height, width).
func perImage(
    _ x: Tensor, output: (channels: Int, height: Int, width: Int),
    _ op: (FeatureMap, UnsafeMutablePointer<Float>) -> Void
) -> Tensor {
    let (n, c, h, w) = x.nchw
    let outCount = output.channels * output.height * output.width
    var input = x.storage
    var y = Tensor(zeros: [n, output.channels, output.height, output.width])
    input.withUnsafeMutableBufferPointer { src in
        y.storage.withUnsafeMutableBufferPointer { dst in
            for i in 0..<n {
                op(FeatureMap(data: src.baseAddress! + i * c * h * w, channels: c, height: h, width: w), dst.baseAddress! + i * outCount)
            }
        }
    }
    return y
}
