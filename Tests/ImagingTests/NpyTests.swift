import ArrayFiles
import Foundation
import Imaging
import XCTest

final class NpyTests: XCTestCase {
    func npy(_ name: String) throws -> NpyArray {
        try NpyArray(contentsOf: Fixture.directory.appendingPathComponent("npy").appendingPathComponent(name + ".npy"))
    }

    func testReadsNumPyDTypesAndShapes() throws {
        let u1 = try npy("u1_2x3")
        XCTAssertEqual(u1.shape, [2, 3])
        XCTAssertEqual(u1.values, .uint8([0, 1, 2, 3, 4, 5]))
        let f4 = try npy("f4_3d")
        XCTAssertEqual(f4.shape, [2, 3, 4])
        XCTAssertEqual(f4.float32Values, (0..<24).map { Float($0) * 0.5 - 3 })
        XCTAssertEqual(try f4.floatImages().count, 2)
        XCTAssertEqual(try f4.floatImages()[1][1, 2], Float(12 + 4 + 2) * 0.5 - 3)
        XCTAssertEqual(try npy("i2_1d").values, .int16([-32768, -1, 0, 1, 32767]))
        XCTAssertEqual(try npy("u2_1d").values, .uint16([0, 1, 65535, 4096]))
        XCTAssertEqual(try npy("f8_2x2").values, .float64([1.5, -2.25, 1e300, .leastNonzeroMagnitude]))
        let scalar = try npy("f4_scalar")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.values, .float32([7.25]))
        XCTAssertEqual(try npy("f4_v2").values, .float32([0, 1, 2, 3, 4]))
    }

    func testRejectsUnsupportedFiles() throws {
        XCTAssertThrowsError(try npy("fortran")) { XCTAssertEqual($0 as? NpyError, .fortranOrder) }
        XCTAssertThrowsError(try npy("big_endian")) { XCTAssertEqual($0 as? NpyError, .unsupportedDType(">f4")) }
        XCTAssertThrowsError(try npy("i4")) { XCTAssertEqual($0 as? NpyError, .unsupportedDType("<i4")) }
        XCTAssertThrowsError(try npy("truncated")) { error in
            guard case .truncated = error as? NpyError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try NpyArray(data: Data("not numpy".utf8))) { XCTAssertEqual($0 as? NpyError, .notNpy) }
        XCTAssertThrowsError(try NpyArray(data: Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 200, 0])))
        XCTAssertThrowsError(try npy("missing")) { error in
            guard case .unreadable = error as? NpyError else { return XCTFail("\(error)") }
        }
    }

    func testWritesWhatNumPyWrites() throws {
        // Same header, padding and data as np.save for these arrays.
        let original = try Data(contentsOf: Fixture.directory.appendingPathComponent("npy/u1_2x3.npy"))
        XCTAssertEqual(try NpyArray(shape: [2, 3], values: .uint8([0, 1, 2, 3, 4, 5])).encoded(), original)
        let floats = try Data(contentsOf: Fixture.directory.appendingPathComponent("npy/f4_3d.npy"))
        XCTAssertEqual(try NpyArray(shape: [2, 3, 4], values: .float32((0..<24).map { Float($0) * 0.5 - 3 })).encoded(), floats)
    }

    func testRoundTripThroughFileAndStacking() throws {
        let images = try (0..<3).map { i in try Image<Float>(width: 4, height: 2, pixels: (0..<8).map { Float(i * 8 + $0) / 3 }) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        try NpyArray(stacking: images).write(to: url)
        let back = try NpyArray(contentsOf: url)
        XCTAssertEqual(back.shape, [3, 2, 4])
        XCTAssertEqual(try back.floatImages(), images)
        XCTAssertThrowsError(try back.byteImages())
        XCTAssertThrowsError(try NpyArray(shape: [2], values: .int16([1, 2])).encoded())
        XCTAssertThrowsError(try NpyArray(shape: [3], values: .uint8([1, 2])))
        XCTAssertThrowsError(try NpyArray(shape: [Int.max, 4], values: .uint8([])))
    }
}
