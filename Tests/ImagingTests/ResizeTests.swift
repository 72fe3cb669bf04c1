import Imaging
import XCTest

final class ResizeTests: XCTestCase {
    /// (fixture case, input fixture, output width, output height, has float output)
    static let cases: [(String, String, Int, Int, Bool)] = [
        ("brain240_to268", "brain240_u8", 268, 268, true),
        ("smooth155x190_to224", "smooth155x190_u8", 224, 224, true),
        ("random256_to224", "random256_u8", 224, 224, false),
        ("tiny5x7_to224", "tiny5x7_u8", 224, 224, false),
        ("tiny5x7_to224x64", "tiny5x7_u8", 224, 64, true),
        ("odd33x17_to40x9", "odd33x17_u8", 40, 9, true),
        ("even48x64_to32x24", "even48x64_u8", 32, 24, true),
        ("small64_to56", "small64_u8", 56, 56, true),
        ("small64_to71x50", "small64_u8", 71, 50, true),
    ]

    func testUInt8ResizeIsBitExactWithOpenCV() throws {
        for (name, input, width, height, _) in Self.cases {
            let source = try Fixture.byteImage(input)
            let expected = try Fixture.byteImage("resize_\(name)_u8")
            assertIdentical(try source.resized(width: width, height: height), expected, name)
        }
    }

    func testUInt8DownscaleFrom268MatchesOpenCV() throws {
        let up = try Fixture.byteImage("resize_brain240_to268_u8")
        assertIdentical(try up.resized(width: 240, height: 240), try Fixture.byteImage("resize_brain268_to240_u8"), "268→240")
    }

    func testFloatResizeMatchesOpenCVWithin1e4() throws {
        for (name, input, width, height, hasFloat) in Self.cases where hasFloat {
            let source = try Fixture.floatVersion(try Fixture.byteImage(input))
            let expected = try Fixture.floatImage("resize_\(name)_f32")  // may hold only the top rows
            assertClose(try topRows(source.resized(width: width, height: height), expected.height), expected,
                        tolerance: 1e-4, name)
        }
    }

    func testFloatDownscaleFrom268MatchesOpenCV() throws {
        let up = try Fixture.floatImage("resize_brain240_to268_f32")
        let expectedRows = try Fixture.floatImage("resize_brain268_to240_f32")  // the top 64 rows
        XCTAssertEqual(expectedRows.height, 64)
        assertClose(try topRows(up.resized(width: 240, height: 240), 64), expectedRows, tolerance: 1e-4, "268→240 float")
    }

    func testChannelsResizeIndependently() throws {
        let planes = try Fixture.bytePlanes("resize_odd33x17x3_to40x9_u8")
        let source = try Fixture.byteImage("odd33x17_u8")
        let inputs = [source,
                      try Image(width: 17, height: 33, pixels: (0..<33).reversed().flatMap { source.pixels[($0 * 17)..<($0 * 17 + 17)] }),
                      try Image(width: 17, height: 33, pixels: source.pixels.map { 255 - $0 })]
        XCTAssertEqual(planes.count, 3)
        for (channel, input) in inputs.enumerated() {
            assertIdentical(try input.resized(width: 40, height: 9), planes[channel], "uint8 channel \(channel)")
            let floatPlanes = try Fixture.floatPlanes("resize_odd33x17x3_to40x9_f32")
            assertClose(try Fixture.floatVersion(input).resized(width: 40, height: 9), floatPlanes[channel],
                        tolerance: 1e-4, "float channel \(channel)")
        }
    }

    func testSameSizeIsACopyAndBadSizesThrow() throws {
        let source = try Fixture.byteImage("tiny5x7_u8")
        XCTAssertEqual(try source.resized(width: 7, height: 5), source)
        XCTAssertThrowsError(try source.resized(width: 0, height: 5))
        XCTAssertThrowsError(try Fixture.floatVersion(source).resized(width: 3, height: -1))
    }
}
