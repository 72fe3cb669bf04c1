import ArrayFiles
import Foundation
import Inference
import Segmentation
import XCTest

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func loadFixtures(_ name: String) throws -> SafeTensorsFile {
    try SafeTensorsFile(contentsOf: fixturesDirectory.appendingPathComponent(name))
}

/// The parity model (seeded weights, as tools/reference/seg_fixtures.py builds it), built once per test process.
let seededModel: Result<UNetPlusPlus, Error> = Result { try UNetPlusPlus(weights: UNetPlusPlus.seededWeights()) }

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
}
