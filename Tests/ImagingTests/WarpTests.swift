import Imaging
import XCTest

final class WarpTests: XCTestCase {
    func testAlbumentationsZoomOnFramePlanesIsBitExact() throws {
        let frame = try Fixture.bytePlanes("frame240_u8")
        let expected = try Fixture.bytePlanes("zoom_frame240_u8")
        for channel in 0..<3 {
            assertIdentical(try frame[channel].zoomed(scale: 1.2), expected[channel], "zoom channel \(channel)")
        }
    }

    func testAlbumentationsZoomOnOddSizes() throws {
        let source = try Fixture.byteImage("smooth155x190_u8")
        assertIdentical(try source.zoomed(scale: 1.2), try Fixture.byteImage("zoom_smooth155x190_u8"), "uint8 155×190")
        // The float warp is exact too (same quantised table, same summation order as OpenCV).
        assertClose(try Fixture.floatVersion(source).zoomed(scale: 1.2), try Fixture.floatImage("zoom_smooth155x190_f32"),
                    tolerance: 0, "float 155×190")
        let small = try Fixture.byteImage("odd33x17_u8")
        let flippedRows = try Image(width: 17, height: 33, pixels: (0..<33).reversed().flatMap { small.pixels[($0 * 17)..<($0 * 17 + 17)] })
        let flippedColumns = try Image(width: 17, height: 33, pixels: (0..<33).flatMap { small.pixels[($0 * 17)..<($0 * 17 + 17)].reversed() })
        let expected = try Fixture.floatPlanes("zoom_odd33x17x3_f32")
        for (channel, input) in [small, flippedRows, flippedColumns].enumerated() {
            assertClose(try Fixture.floatVersion(input).zoomed(scale: 1.2), expected[channel], tolerance: 0,
                        "float 33×17 channel \(channel)")
        }
    }

    func testGeneralMatrixForwardAndInverse() throws {
        let m = try Fixture.array("warp_matrix")
        let v = try XCTUnwrap({ if case .float64(let v) = m.values { return v } else { return nil } }())
        let matrix = AffineMatrix(a: v[0], b: v[1], c: v[2], d: v[3], e: v[4], f: v[5])
        let source = try Fixture.byteImage("small64_u8")
        let floatSource = try Fixture.floatVersion(source)
        for (tag, inverse) in [("forward", false), ("inverse", true)] {
            assertIdentical(try source.warpedAffine(matrix, width: 50, height: 70, inverseMap: inverse),
                            try Fixture.byteImage("warp_\(tag)_u8"), "uint8 \(tag)")
            assertClose(try floatSource.warpedAffine(matrix, width: 50, height: 70, inverseMap: inverse),
                        try Fixture.floatImage("warp_\(tag)_f32"), tolerance: 0, "float \(tag)")
        }
    }

    /// T4E's classifier frame: zoom 1.2 then resize 224, on the uint8 path (full chunks) and the
    /// float path (padded chunks).
    func testClassifierFramePipelineBothPaths() throws {
        let frame = try Fixture.bytePlanes("frame240_u8")
        let expected = try Fixture.bytePlanes("frame_pipeline_u8")
        for channel in 0..<3 {
            assertIdentical(try frame[channel].zoomed(scale: 1.2).resized(width: 224, height: 224), expected[channel],
                            "uint8 pipeline channel \(channel)")
        }
        let floatSlice = try Image(width: 240, height: 240, pixels: frame[0].pixels.map(Float.init))
        let expectedFloat = try Fixture.floatImage("frame_pipeline_f32_channel0")  // the top 96 rows
        XCTAssertEqual(expectedFloat.height, 96)
        assertClose(try topRows(floatSlice.zoomed(scale: 1.2).resized(width: 224, height: 224), 96), expectedFloat,
                    tolerance: 1e-4, "float pipeline")
    }

    /// albumentations skips identity matrices; OpenCV's quantised identity warp gives the same image.
    func testUnitZoomIsIdentity() throws {
        let source = try Fixture.byteImage("odd33x17_u8")
        XCTAssertEqual(try source.zoomed(scale: 1), source)
        let floats = try Fixture.floatVersion(source)
        XCTAssertEqual(try floats.zoomed(scale: 1), floats)
        XCTAssertThrowsError(try source.warpedAffine(.albumentationsZoom(scale: 2, width: 17, height: 33), width: 0))
    }

    func testZoomMatrixAndInverse() {
        let m = AffineMatrix.albumentationsZoom(scale: 1.2, width: 240, height: 240)
        XCTAssertEqual(m.a, 1.2)
        XCTAssertEqual(m.c, -23.9, accuracy: 1e-12)  // (1 - 1.2) * 119.5
        let inverse = m.inverted()
        XCTAssertEqual(inverse.a, 1 / 1.2, accuracy: 1e-15)
        XCTAssertEqual(inverse.c, 119.5 * (1 - 1 / 1.2), accuracy: 1e-12)
        let singular = AffineMatrix(a: 0, b: 0, c: 1, d: 0, e: 0, f: 1).inverted()
        XCTAssertEqual(singular, AffineMatrix(a: 0, b: 0, c: 0, d: 0, e: 0, f: 0))
    }
}
