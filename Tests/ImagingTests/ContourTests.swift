import ArrayFiles
import Foundation
import Imaging
import XCTest

final class ContourTests: XCTestCase {
    /// Compares findContours/contourArea on every mask against cv2's tables.
    func check(masks: [Image<UInt8>], tag: String, directory: URL = Fixture.directory) throws {
        func array(_ name: String) throws -> NpyArray {
            try NpyArray(contentsOf: directory.appendingPathComponent("contours_\(tag)_\(name).npy"))
        }
        guard case .int16(let rows) = try array("table").values, case .float64(let areas) = try array("areas").values,
              case .int16(let points) = try array("points").values else {
            return XCTFail("unexpected fixture dtypes")
        }
        var expectedByMask = [[(count: Int, links: ContourLinks, area: Double, points: [ContourPoint])]](repeating: [], count: masks.count)
        var pointOffset = 0
        for row in 0..<(rows.count / 7) {
            let r = rows[(row * 7)..<(row * 7 + 7)].map(Int.init)
            let count = r[2]
            let contourPoints = (0..<count).map { ContourPoint(x: Int(points[2 * (pointOffset + $0)]), y: Int(points[2 * (pointOffset + $0) + 1])) }
            pointOffset += count
            expectedByMask[r[0]].append((count, ContourLinks(next: r[3], previous: r[4], firstChild: r[5], parent: r[6]), areas[row], contourPoints))
        }
        XCTAssertEqual(pointOffset, points.count / 2)
        print("\(tag): \(masks.count) masks, \(rows.count / 7) contours, \(pointOffset) points compared")
        for (index, mask) in masks.enumerated() {
            let contours = findContours(mask)
            let expected = expectedByMask[index]
            XCTAssertEqual(contours.count, expected.count, "\(tag) mask \(index): contour count")
            for (c, (contour, reference)) in zip(contours, expected).enumerated() {
                XCTAssertEqual(contour.points, reference.points, "\(tag) mask \(index) contour \(c): points")
                XCTAssertEqual(contour.links, reference.links, "\(tag) mask \(index) contour \(c): hierarchy")
                XCTAssertEqual(contour.area, reference.area, "\(tag) mask \(index) contour \(c): area")
                var depth = 0, parent = contour.links.parent
                while parent >= 0 { depth += 1; parent = contours[parent].links.parent }
                XCTAssertEqual(contour.isHole, depth % 2 == 1, "\(tag) mask \(index) contour \(c): hole flag")
            }
        }
    }

    func testGeneratedShapesMatchOpenCV() throws {
        try check(masks: try Fixture.array("contours_small_masks").byteImages(), tag: "small")
    }

    /// Optional: a larger random set from tools/reference/contour_stress.py (IMAGING_CONTOUR_STRESS=DIR).
    func testStressSetIfGiven() throws {
        guard let path = ProcessInfo.processInfo.environment["IMAGING_CONTOUR_STRESS"] else {
            throw XCTSkip("set IMAGING_CONTOUR_STRESS to a directory written by tools/reference/contour_stress.py")
        }
        let directory = URL(fileURLWithPath: path)
        let masks = try NpyArray(contentsOf: directory.appendingPathComponent("contours_small_masks.npy")).byteImages()
        try check(masks: masks, tag: "small", directory: directory)
    }

    func testBrainAndTumourMasksMatchOpenCV() throws {
        let frame = try Fixture.bytePlanes("frame240_u8")
        func mask(_ image: Image<UInt8>, _ keep: (UInt8) -> Bool) throws -> Image<UInt8> {
            try Image(width: image.width, height: image.height, pixels: image.pixels.map { keep($0) ? 1 : 0 })
        }
        let masks = [try mask(frame[0]) { $0 > 1 }, try mask(frame[1]) { $0 != 0 },
                     try mask(frame[2]) { $0 != 0 }, try mask(frame[0]) { $0 > 120 }]
        try check(masks: masks, tag: "large")
    }

    func testKnownShapes() throws {
        XCTAssertTrue(findContours(try Image<UInt8>(width: 5, height: 4)).isEmpty)
        var square = try Image<UInt8>(width: 6, height: 6)
        for y in 1...3 { for x in 1...3 { square[y, x] = 1 } }
        let contours = findContours(square)
        XCTAssertEqual(contours.count, 1)
        XCTAssertEqual(contours[0].points.first, ContourPoint(x: 1, y: 1))
        XCTAssertEqual(contours[0].points.count, 8)
        XCTAssertEqual(contours[0].area, 4)  // polygon through pixel centres, not 9 pixels
        XCTAssertEqual(contourArea([]), 0)
        XCTAssertEqual(contourArea([ContourPoint(x: 0, y: 0), ContourPoint(x: 4, y: 0), ContourPoint(x: 4, y: 3)]), 6)
    }
}
