import ArrayFiles
import Classification
import Foundation
import Imaging
import XCTest

final class ChunkPlanTests: XCTestCase {
    struct Expected: Decodable { let length: Int; let chunks: [[Int]] }

    func testChunksEqualTheReferenceOnListedLengths() throws {
        let cases = try Fixtures.json("chunks.json", as: [Expected].self)
        XCTAssertEqual(cases.map(\.length), [1, 34, 35, 36, 40, 41, 200])
        for c in cases {
            let plan = ChunkPlan(frameCount: c.length)
            XCTAssertEqual(plan.chunks.map { [$0.lowerBound, $0.upperBound] }, c.chunks, "L = \(c.length)")
        }
    }

    func testPaddingAndPaths() {
        let plan = ChunkPlan(frameCount: 41)  // [0,35) [5,40) [10,41)
        XCTAssertEqual((0..<3).map(plan.padding(ofChunk:)), [0, 0, 4])
        XCTAssertEqual(plan.framesInPaddedChunks, Set(10..<41))
        XCTAssertEqual(plan.framesInFullChunks, Set(0..<40))
        XCTAssertEqual(ChunkPlan(frameCount: 1).padding(ofChunk: 0), 34)
        XCTAssertEqual(ChunkPlan(frameCount: 35).framesInPaddedChunks, [])
        XCTAssertEqual(ChunkPlan(frameCount: 0).chunks, [])
    }
}

final class SliceSelectionTests: XCTestCase {
    struct Expected: Decodable {
        let name: String
        let keep: Bool
        let brain_contours: Int
        let brain_area: Double
        let wt_contours: Int
        let wt_area: Double
    }

    /// The shape set (rings, holes in holes, touching blobs, single pixels, lines, border objects, empty images,
    /// six blobs, a degenerate brain) against OpenCV's findContours/contourArea and has_good_features.
    func testSelectionEqualsOpenCVOnTheShapeSet() throws {
        let expected = try Fixtures.json("selection/expected.json", as: [Expected].self)
        let images = try NpyArray(contentsOf: Fixtures.url("selection/images.npy")).byteImages()
        let masks = try NpyArray(contentsOf: Fixtures.url("selection/masks.npy")).byteImages()
        XCTAssertEqual(images.count, expected.count)
        XCTAssertEqual(expected.filter(\.keep).count, 6)  // the set exercises both decisions
        for (i, e) in expected.enumerated() {
            let s = try SliceSelection(slice: images[i], wholeTumour: masks[i])
            XCTAssertEqual(s.brainContours, e.brain_contours, e.name)
            XCTAssertEqual(s.brainArea, e.brain_area, e.name)
            XCTAssertEqual(s.tumourContours, e.wt_contours, e.name)
            XCTAssertEqual(s.tumourArea, e.wt_area, e.name)
            XCTAssertEqual(s.isKept, e.keep, e.name)
        }
    }

    func testMaskOfAnotherSizeIsAnError() throws {
        let slice = try Image<UInt8>(width: 8, height: 6, repeating: 9)
        let mask = try Image<UInt8>(width: 6, height: 8, repeating: 1)
        XCTAssertThrowsError(try SliceSelection(slice: slice, wholeTumour: mask)) { error in
            XCTAssertEqual(error as? ClassificationError,
                           .sizeMismatch(what: "slice and its whole-tumour mask", expected: [6, 8], found: [8, 6]))
        }
    }
}
