import ArrayFiles
import Foundation
import Inference
import XCTest

final class SafeTensorsTests: XCTestCase {
    func testWriteThenReadRoundTrip() throws {
        let url = temporaryURL("round.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let a = try Tensor(shape: [2, 3], storage: [1, -2, 3.5, 0, 1e-8, -7])
        let b = try Tensor(shape: [1], storage: [42])
        try SafeTensorsWriter.write(["layer.a": a, "b": b], metadata: ["format": "pt"], to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.keys, ["b", "layer.a"])
        XCTAssertEqual(try file.tensor("layer.a", shape: [2, 3]), a)
        XCTAssertEqual(try file.tensor("b"), b)
        XCTAssertEqual(file.metadata["format"], "pt")
    }

    /// The reader's SHA-256 is the file's, as `sha256sum` gives it: the weights' identity every result records.
    func testSHA256IsTheFileDigest() throws {
        XCTAssertEqual(try loadFixtures("ops.safetensors").sha256, "725c99e216ae891edebfa9805f313edddc042b673545121963d6784570f8f961")
    }

    /// Half-precision and integer tensors written by Python's safetensors are upcast exactly.
    func testReadsHalfPrecisionByHand() throws {
        // F16 1.5 = 0x3E00, -2 = 0xC000; BF16 1.5 = 0x3FC0, -2 = 0xC000; I64 7.
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"# +
            #""bf":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"i":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: [0x00, 0x3E, 0x00, 0xC0, 0xC0, 0x3F, 0x00, 0xC0, 7, 0, 0, 0, 0, 0, 0, 0])
        let url = temporaryURL("half.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try data.write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(try file.tensor("h").storage, [1.5, -2])
        XCTAssertEqual(try file.tensor("bf").storage, [1.5, -2])
        XCTAssertEqual(try file.tensor("i").storage, [7])
    }

    func testClearErrors() throws {
        let url = temporaryURL("errors.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(["w": Tensor(zeros: [4, 4]), "extra": Tensor(zeros: [2])], to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertThrowsError(try file.tensor("missing")) { XCTAssertEqual($0 as? SafeTensorsError, .missingKey("missing")) }
        XCTAssertThrowsError(try file.tensor("w", shape: [4, 5])) {
            XCTAssertEqual($0 as? SafeTensorsError, .wrongShape(key: "w", expected: [4, 5], found: [4, 4]))
        }
        let reader = StateDictReader(file)
        _ = try reader.tensor("w", shape: [4, 4])
        XCTAssertThrowsError(try reader.finish()) { XCTAssertEqual($0 as? SafeTensorsError, .unexpectedKeys(["extra"])) }

        // Truncated data, truncated header, garbage header, missing file.
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 3).write(to: url)
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: url)) { error in
            guard case .truncated? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("truncated"))
        }
        try bytes.prefix(20).write(to: url)
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: url)) { guard case .truncated? = $0 as? SafeTensorsError else { return XCTFail("\($0)") } }
        var garbage = Data()
        withUnsafeBytes(of: UInt64(4).littleEndian) { garbage.append(contentsOf: $0) }
        garbage.append(contentsOf: Array("nope".utf8))
        try garbage.write(to: url)
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: url)) { guard case .badHeader? = $0 as? SafeTensorsError else { return XCTFail("\($0)") } }
        // A shape whose element count overflows is a bad header, not a trap.
        let huge = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#
        var hugeData = Data()
        withUnsafeBytes(of: UInt64(huge.utf8.count).littleEndian) { hugeData.append(contentsOf: $0) }
        hugeData.append(contentsOf: Array(huge.utf8) + [UInt8](repeating: 0, count: 16))
        try hugeData.write(to: url)
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: url)) { guard case .badHeader? = $0 as? SafeTensorsError else { return XCTFail("\($0)") } }
        try FileManager.default.removeItem(at: url)
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: url)) { guard case .unreadable? = $0 as? SafeTensorsError else { return XCTFail("\($0)") } }
    }
}

final class SeededWeightsTests: XCTestCase {
    /// Swift and tools/reference/seeded_weights.py produce bit-identical values.
    func testMatchesPython() throws {
        let fixtures = try loadFixtures("ops.safetensors")
        XCTAssertEqual(SeededWeights.uniform(key: "encoder.features.conv0.weight", count: 16, low: -0.25, high: 0.25, baseSeed: 2021),
                       try fixtures.tensor("seeded.a").storage)
        XCTAssertEqual(SeededWeights.uniform(key: "decoder.blocks.x_0_0.conv1.1.running_var", count: 16, low: 0.5, high: 1.5, baseSeed: 2021),
                       try fixtures.tensor("seeded.b").storage)
        XCTAssertEqual(SeededWeights.uniform(key: "x", count: 16, low: -1, high: 1, baseSeed: .max),
                       try fixtures.tensor("seeded.c").storage)
        XCTAssertEqual(SeededWeights.fnv1a64("a"), 0xaf63_dc4c_8601_ec8c)  // FNV-1a 64 test vector
    }

    func testStandardRules() {
        XCTAssertEqual(SeededWeights.standardRule(key: "m.num_batches_tracked", shape: [], isNorm: true), .constant(0))
        XCTAssertEqual(SeededWeights.standardRule(key: "m.running_var", shape: [4], isNorm: true), .uniform(low: 0.5, high: 1.5))
        XCTAssertEqual(SeededWeights.standardRule(key: "m.weight", shape: [4], isNorm: true), .uniform(low: 0.8, high: 1.2))
        XCTAssertEqual(SeededWeights.standardRule(key: "c.weight", shape: [8, 3, 1, 1], isNorm: false), .uniform(low: -1, high: 1))
    }
}
