import DICOM
import Foundation
import XCTest

private let invalid = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/invalid")

/// Header values a reader must not trust (tools/testdata/make_invalid_header_fixtures.py): each file opens, so its
/// header can be inspected, and is refused before decoding with an error that names the attribute.
final class InvalidHeaderTests: XCTestCase {
    private let expected: [(file: String, kind: String, mentions: String)] = [
        ("rescale_slope_inf", "invalid_attribute", "RescaleSlope (0028,1053) value 1 is not finite"),
        ("rescale_slope_nan", "invalid_attribute", "RescaleSlope (0028,1053) value 1 is not finite"),
        ("rescale_slope_1e308", "invalid_attribute", "overflow a float for 12-bit values"),
        ("rescale_intercept_minus_inf", "invalid_attribute", "RescaleIntercept (0028,1052) value 1 is not finite"),
        ("position_nan", "invalid_attribute", "ImagePositionPatient (0020,0032) value 1 is not finite"),
        ("position_1e308", "invalid_attribute", "ImagePositionPatient (0020,0032) value 1 is out of range"),
        ("orientation_inf", "invalid_attribute", "ImageOrientationPatient (0020,0037) value 5 is not finite"),
        ("spacing_1e308", "invalid_attribute", "PixelSpacing (0028,0030) value 1 is out of range"),
        ("thickness_nan", "invalid_attribute", "SliceThickness (0018,0050) value 1 is not finite"),
        ("photometric_rgb", "unsupported_pixel_format", "PhotometricInterpretation RGB"),
        ("photometric_palette", "unsupported_pixel_format", "PhotometricInterpretation PALETTE COLOR"),
        ("high_bit_200", "unsupported_pixel_format", "HighBit 200 with BitsStored 12"),
        ("pixel_representation_7", "unsupported_pixel_format", "PixelRepresentation 7"),
        ("frames_minus_one", "invalid_attribute", "NumberOfFrames (0028,0008) '-1'"),
        ("frames_zero", "invalid_attribute", "NumberOfFrames (0028,0008) '0'"),
        ("frames_abc", "invalid_attribute", "NumberOfFrames (0028,0008) 'abc'"),
        ("transfer_syntax_unknown", "unsupported_transfer_syntax", "(1.2.3.4)"),
    ]

    func testEveryInvalidHeaderIsRefusedNamingTheAttribute() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: invalid.path).filter { $0.hasSuffix(".dcm") }
        XCTAssertEqual(Set(files), Set(expected.map { "\($0.file).dcm" }), "every fixture has an expectation")
        for (name, kind, mentions) in expected {
            let path = invalid.appendingPathComponent("\(name).dcm").path
            for deferring in [true, false] {
                let file = try DicomFile(path: path, deferringPixelData: deferring)
                XCTAssertThrowsError(try file.checkDecodable(), name) { error in
                    guard let error = error as? DicomError else { return XCTFail("\(name): \(error)") }
                    XCTAssertEqual(error.kind, kind, name)
                    XCTAssertTrue(error.description.hasPrefix(path + ": "), "\(name): \(error)")
                    XCTAssertTrue(error.description.contains(mentions), "\(name): \(error)")
                    XCTAssertFalse(error.description.contains("\n"), name)
                }
                // Decoding refuses them for the same reason.
                XCTAssertThrowsError(try file.rescaledPixels(), name) { error in
                    XCTAssertEqual((error as? DicomError)?.kind, kind, name)
                }
            }
        }
    }

    /// The unknown syntax is reported as declared, not as the syntax DCMTK guessed from the bytes.
    func testUnknownTransferSyntaxIsReportedAsDeclared() throws {
        let file = try DicomFile(path: invalid.appendingPathComponent("transfer_syntax_unknown.dcm").path)
        XCTAssertEqual(file.header.transferSyntax.uid, "1.2.3.4")
    }

    /// A length field larger than the whole file is refused as truncated (the fuzzer's first finding: DCMTK used to
    /// allocate the declared 2.25 GB before noticing the file was 1.7 KB).
    func testElementLongerThanTheFileIsRefusedAtLoad() throws {
        var bytes = try Data(contentsOf: invalid.deletingLastPathComponent().appendingPathComponent("smooth8.dcm"))
        // Explicit VR little endian OB/OW PixelData: tag, VR, 2 reserved bytes, then a 32-bit length.
        let pixelData = Data([0xE0, 0x7F, 0x10, 0x00])
        let at = try XCTUnwrap(bytes.range(of: pixelData)).lowerBound
        bytes.replaceSubrange((at + 8)..<(at + 12), with: [0x00, 0x00, 0x00, 0x87])  // 2.25 GB
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("long-\(UUID().uuidString).dcm")
        try bytes.write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        for deferring in [true, false] {
            XCTAssertThrowsError(try DicomFile(path: path.path, deferringPixelData: deferring)) { error in
                XCTAssertEqual((error as? DicomError)?.kind, "truncated", "\(error)")
            }
        }
    }
}
