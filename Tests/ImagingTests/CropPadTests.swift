import Imaging
import XCTest

final class CropPadTests: XCTestCase {
    func testCentreCropMatchesAlbumentations() throws {
        let odd = try Fixture.byteImage("odd33x17_u8")
        XCTAssertEqual(try odd.centreCropped(width: 9, height: 14), try Fixture.byteImage("centrecrop_odd33x17_to9x14"))
        let brain = try Fixture.byteImage("brain240_u8")
        XCTAssertEqual(try brain.centreCropped(width: 224, height: 224), try Fixture.byteImage("centrecrop_brain240_to224"))
        XCTAssertThrowsError(try odd.centreCropped(width: 18, height: 10))
        XCTAssertThrowsError(try odd.cropped(x: 10, y: 0, width: 8, height: 1))
    }

    func testPadIfNeededReflect101MatchesAlbumentations() throws {
        let odd = try Fixture.byteImage("odd33x17_u8")
        XCTAssertEqual(try odd.paddedReflect101(minWidth: 40, minHeight: 41), try Fixture.byteImage("pad_odd33x17_to40x41"))
        // padding wider than the image reflects repeatedly, as OpenCV's borderInterpolate does
        let tiny = try Fixture.byteImage("tiny5x7_u8")
        XCTAssertEqual(try tiny.paddedReflect101(minWidth: 30, minHeight: 23), try Fixture.byteImage("pad_tiny5x7_to30x23"))
        let small = try Fixture.byteImage("small64_u8")
        XCTAssertEqual(try small.paddedReflect101(minWidth: 71, minHeight: 64), try Fixture.byteImage("pad_small64_to71x64"))
    }

    func testExplicitReflect101PaddingOnFloat() throws {
        let tiny = try Fixture.floatVersion(try Fixture.byteImage("tiny5x7_u8"))
        let padded = try tiny.paddedReflect101(Padding(top: 3, bottom: 11, left: 9, right: 2))
        XCTAssertEqual(padded, try Fixture.floatImage("pad_tiny5x7_f32_explicit"))
        XCTAssertThrowsError(try tiny.paddedReflect101(Padding(top: -1, bottom: 0, left: 0, right: 0)))
    }

    func testPadIfNeededSplit() {
        XCTAssertEqual(Padding.padIfNeeded(width: 224, height: 224, minWidth: 268, minHeight: 268),
                       Padding(top: 22, bottom: 22, left: 22, right: 22))
        XCTAssertEqual(Padding.padIfNeeded(width: 17, height: 33, minWidth: 40, minHeight: 41),
                       Padding(top: 4, bottom: 4, left: 11, right: 12))
        XCTAssertEqual(Padding.padIfNeeded(width: 300, height: 10, minWidth: 268, minHeight: 13),
                       Padding(top: 1, bottom: 2, left: 0, right: 0))
    }

    func testPlanesRoundTrip() throws {
        let interleaved: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        let planes = try Image.planes(interleaved: interleaved, width: 2, height: 2, channels: 3)
        XCTAssertEqual(planes[1].pixels, [2, 5, 8, 11])
        XCTAssertEqual(try Image.interleave(planes), interleaved)
        XCTAssertThrowsError(try Image.planes(interleaved: interleaved, width: 2, height: 2, channels: 4))
        XCTAssertThrowsError(try Image<UInt8>(width: 2, height: 2, pixels: [1, 2, 3]))
        XCTAssertThrowsError(try Image<UInt8>(width: 1 << 20, height: 1 << 20))
        XCTAssertThrowsError(try Image<UInt8>(width: 0, height: 3))
    }

    func testMapAndInPlaceAccess() throws {
        var image = try Image<UInt8>(width: 3, height: 1, pixels: [0, 2, 200])
        XCTAssertEqual(image.map { $0 > 1 ? UInt8(1) : 0 }.pixels, [0, 1, 1])
        XCTAssertEqual(image.map { Float($0) / 2 }.pixels, [0, 1, 100])
        image.withUnsafeMutablePixels { $0[0] = 7 }
        XCTAssertEqual(image[0, 0], 7)
        XCTAssertThrowsError(try image.paddedReflect101(Padding(top: 0, bottom: 0, left: Int.max, right: 1)))
        XCTAssertThrowsError(try image.resized(width: 1 << 20, height: 1 << 20))
    }
}
