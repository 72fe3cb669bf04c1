import DICOM
import Foundation
import XCTest

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

private func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

private func littleEndian<T: FixedWidthInteger>(_ name: String, as: T.Type) throws -> [T] {
    let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
    return data.withUnsafeBytes { raw in
        (0..<(raw.count / MemoryLayout<T>.size)).map {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))
        }
    }
}

final class DicomDecodingTests: XCTestCase {
    /// MR_small (64×64, signed 16-bit) in every syntax DCMTK decodes gives pydicom's pixel_array exactly.
    func testTransferSyntaxMatrixDecodesToPydicomPixels() throws {
        let expected = try littleEndian("MR_small_pixel_array.i16", as: Int16.self).map(Int32.init)
        XCTAssertEqual(expected.count, 64 * 64)
        let matrix: [(String, String)] = [
            ("MR_small.dcm", "1.2.840.10008.1.2.1"),
            ("MR_small_implicit.dcm", "1.2.840.10008.1.2"),
            ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"),
            ("MR_small_deflated.dcm", "1.2.840.10008.1.2.1.99"),
            ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),
            ("MR_small_jpeg_lossless_sv1.dcm", "1.2.840.10008.1.2.4.70"),
            ("MR_small_jpeg_lossless.dcm", "1.2.840.10008.1.2.4.57"),
            ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
        ]
        for (name, uid) in matrix {
            let file = try DicomFile(path: fixture(name))
            XCTAssertEqual(file.header.transferSyntax.uid, uid, name)
            XCTAssertEqual(file.header.rows, 64, name)
            XCTAssertEqual(file.header.columns, 64, name)
            XCTAssertEqual(try file.storedValues(), expected, name)
            XCTAssertEqual(try file.rescaledPixels(), expected.map(Float.init), name)
        }
    }

    func testHeaderFieldsOfMRSmall() throws {
        let header = try DicomFile(path: fixture("MR_small_RLE.dcm")).header
        XCTAssertEqual(header.numberOfFrames, 1)
        XCTAssertEqual(header.bitsAllocated, 16)
        XCTAssertEqual(header.bitsStored, 16)
        XCTAssertEqual(header.pixelRepresentation, 1)
        XCTAssertEqual(header.samplesPerPixel, 1)
        XCTAssertEqual(header.photometricInterpretation, "MONOCHROME2")
        XCTAssertEqual(header.instanceNumber, 1)
        XCTAssertEqual(header.imagePositionPatient, [-83.9063, -91.2, 6.6406])
        XCTAssertEqual(header.imageOrientationPatient?.count, 6)
        XCTAssertEqual(header.seriesInstanceUid, "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457")
        XCTAssertEqual(header.modality, "MR")
        XCTAssertEqual(header.transferSyntax.name, "RLE Lossless")
        XCTAssertTrue(header.hasPixelData)
    }

    /// 12 bits stored in 16 with junk high bits: masked, sign-extended, ×0.5 − 10.25, split into 3 frames.
    func testTwelveBitSignedMultiFrameWithRescale() throws {
        let expected = try littleEndian("ramp12_expected.i32", as: Int32.self)
        XCTAssertEqual(expected.first, -2048)
        XCTAssertEqual(expected.last, 2043)
        for name in ["ramp12_explicit.dcm", "ramp12_rle.dcm", "ramp12_bigendian.dcm"] {
            let file = try DicomFile(path: fixture(name))
            XCTAssertEqual(file.header.numberOfFrames, 3, name)
            XCTAssertEqual(file.header.rescaleSlope, 0.5, name)
            XCTAssertEqual(file.header.rescaleIntercept, -10.25, name)
            XCTAssertEqual(try file.storedValues(), expected, name)
            let frames = try file.rescaledFrames()
            XCTAssertEqual(frames.count, 3, name)
            XCTAssertEqual(frames[1], expected[320..<640].map { Float($0) * 0.5 - 10.25 }, name)
        }
    }

    /// Lossy JPEG baseline (8-bit) and extended (12-bit) at quality 100 decode to within 1 grey level of the
    /// source (the codec is lossy; the uncompressed source decodes exactly).
    func testLossyJPEGDecodesCloseToTheSource() throws {
        for (bits, name, uid) in [(8, "smooth8_jpeg_baseline.dcm", "1.2.840.10008.1.2.4.50"),
                                  (12, "smooth12_jpeg_extended.dcm", "1.2.840.10008.1.2.4.51")] {
            let expected = try littleEndian("smooth_expected_\(bits).i32", as: Int32.self)
            XCTAssertEqual(try DicomFile(path: fixture("smooth\(bits).dcm")).storedValues(), expected)
            let file = try DicomFile(path: fixture(name))
            XCTAssertEqual(file.header.transferSyntax.uid, uid)
            XCTAssertEqual(file.header.bitsStored, bits)
            let decoded = try file.storedValues()
            XCTAssertEqual(decoded.count, 32 * 32)
            XCTAssertLessThanOrEqual(zip(decoded, expected).map { abs($0 - $1) }.max() ?? .max, 1, name)
            XCTAssertEqual(decoded.max(), (1 << bits) - 1, name)
        }
    }

    func testJPEG2000GivesAClearUnsupportedSyntaxError() throws {
        let path = fixture("MR_small_jp2klossless.dcm")
        let file = try DicomFile(path: path)
        XCTAssertThrowsError(try file.rescaledPixels()) { error in
            guard case DicomError.unsupportedTransferSyntax(_, let name, let uid) = error else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(uid, "1.2.840.10008.1.2.4.90")
            XCTAssertTrue(name.contains("JPEG 2000"), name)
            XCTAssertEqual("\(error)", "\(path): unsupported transfer syntax \(name) (\(uid))")
        }
    }

    func testBadFilesGiveOneClearErrorLineEach() throws {
        let cases: [(String, String, String)] = [
            ("bad_text.dcm", "not_dicom", "not DICOM"),
            ("bad_zero_bytes.dcm", "not_dicom", "empty (0 bytes)"),
            ("bad_truncated.dcm", "truncated", "truncated"),
            ("bad_no_pixel_data.dcm", "no_pixel_data", "without pixel data"),
            ("bad_absurd_rows.dcm", "absurd_dimensions", "9000x64"),
            ("does-not-exist.dcm", "unreadable", "No such file"),
            ("", "unreadable", "not a regular file"),
        ]
        for (name, kind, phrase) in cases {
            let path = fixture(name)
            do {
                _ = try DicomFile(path: path).rescaledPixels()
                XCTFail("\(name) decoded")
            } catch {
                XCTAssertEqual(error.kind, kind, "\(name): \(error)")
                XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description)
                XCTAssertTrue(error.description.contains(phrase), error.description)
                XCTAssertFalse(error.description.contains("\n"), error.description)
            }
        }
        XCTAssertFalse(DicomFile.isDicom(path: fixture("bad_text.dcm")))
        XCTAssertTrue(DicomFile.isDicom(path: fixture("MR_small_implicit.dcm")))
    }

    /// Distinct files decode concurrently (codecs registered once, no shared mutable state).
    func testConcurrentDecodingGivesTheSamePixels() throws {
        let expected = try littleEndian("MR_small_pixel_array.i16", as: Int16.self).map(Float.init)
        let names = ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jpeg_lossless.dcm",
                     "MR_small_deflated.dcm"]
        let mismatches = Counter()
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let pixels = try? DicomFile(path: fixture(names[index % names.count])).rescaledPixels()
            if pixels != expected { mismatches.increment() }
        }
        XCTAssertEqual(mismatches.value, 0)
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

final class DeferredPixelDataTests: XCTestCase {
    func testDeferredLoadingDecodesTheSamePixelsAndStillReportsBadFiles() throws {
        let expected = try DicomFile(path: fixture("MR_small.dcm")).storedValues()
        for name in ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm"] {
            let file = try DicomFile(path: fixture(name), deferringPixelData: true)
            XCTAssertEqual(file.header.rows, 64, name)
            XCTAssertEqual(try file.storedValues(), expected, name)
        }
        for (name, kind) in [("bad_truncated.dcm", "truncated"), ("bad_text.dcm", "not_dicom"),
                             ("MR_small_jp2klossless.dcm", "unsupported_transfer_syntax")] {
            do {
                _ = try DicomFile(path: fixture(name), deferringPixelData: true).storedValues()
                XCTFail("\(name) decoded")
            } catch {
                XCTAssertEqual(error.kind, kind, "\(name): \(error)")
            }
        }
    }
}

final class HeaderCheckTests: XCTestCase {
    func testCheckDecodableNamesHeaderLevelProblemsWithoutDecoding() throws {
        for (name, kind) in [("bad_no_pixel_data.dcm", "no_pixel_data"), ("bad_absurd_rows.dcm", "absurd_dimensions"),
                             ("MR_small_jp2klossless.dcm", "unsupported_transfer_syntax")] {
            let file = try DicomFile(path: fixture(name), deferringPixelData: true)
            XCTAssertThrowsError(try file.checkDecodable(), name) { error in
                XCTAssertEqual((error as? DicomError)?.kind, kind, name)
            }
        }
        for name in ["MR_small_RLE.dcm", "MR_small_jpeg_lossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                     "MR_small_deflated.dcm", "ramp12_bigendian.dcm"] {
            XCTAssertNoThrow(try DicomFile(path: fixture(name), deferringPixelData: true).checkDecodable(), name)
        }
    }
}
