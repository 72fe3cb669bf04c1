import Foundation
import Ingestion
import SeriesFiles
import XCTest

final class BadInputTests: XCTestCase {
    /// Every kind of bad file and series in one study: each is recorded, and the good FLAIR series still comes out.
    func testBadFilesAndSeriesAreRecordedAndTheRestProceeds() throws {
        let study = try temporaryDirectory(self).appendingPathComponent("study")
        let flair = study.appendingPathComponent("FLAIR")
        try copyFiles(of: ingestionFixtures.appendingPathComponent("study/00007/FLAIR"), into: flair)
        let badFiles = ["bad_truncated.dcm", "bad_zero_bytes.dcm", "bad_text.dcm", "bad_no_pixel_data.dcm",
                        "bad_absurd_rows.dcm", "MR_small_jp2klossless.dcm"]
        for name in badFiles {
            try copyItem(dicomFixtures.appendingPathComponent(name), to: flair.appendingPathComponent(name))
        }
        try FileManager.default.createSymbolicLink(atPath: flair.appendingPathComponent("dangling").path,
                                                   withDestinationPath: "/nonexistent/file.dcm")
        for name in ["m0.dcm", "m1.dcm", "m2.dcm"] {
            try copyItem(ingestionFixtures.appendingPathComponent("mixed_sizes/\(name)"),
                         to: study.appendingPathComponent("T2w/\(name)"))
        }
        // Permission denial: root reads anything, so as root the locked file is read (and, being MR_small with
        // no SeriesDescription in a folder not named after a type, rejected for that); otherwise it is unreadable.
        let locked = study.appendingPathComponent("locked/image")
        try copyItem(dicomFixtures.appendingPathComponent("MR_small.dcm"), to: locked)
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: locked.path)

        let result = try StudyIngestor().ingest(study: study)
        XCTAssertEqual(result.metadata.series.map(\.dir), ["FLAIR"])
        XCTAssertEqual(result.series.first?.metadata.slices, 12)

        let byPath = Dictionary(result.metadata.errors.compactMap { e in e.path.map { ($0, e) } }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byPath["FLAIR/bad_truncated.dcm"]?.kind, "truncated")
        XCTAssertEqual(byPath["FLAIR/bad_zero_bytes.dcm"]?.kind, "not_dicom")
        XCTAssertEqual(byPath["FLAIR/bad_text.dcm"]?.kind, "not_dicom")
        XCTAssertEqual(byPath["FLAIR/bad_no_pixel_data.dcm"]?.kind, "no_pixel_data")
        XCTAssertEqual(byPath["FLAIR/bad_absurd_rows.dcm"]?.kind, "absurd_dimensions")
        XCTAssertEqual(byPath["FLAIR/MR_small_jp2klossless.dcm"]?.kind, "unsupported_transfer_syntax")
        XCTAssertEqual(byPath["FLAIR/MR_small_jp2klossless.dcm"]?.message,
                       "FLAIR/MR_small_jp2klossless.dcm: unsupported transfer syntax JPEG 2000 (Lossless only) "
                       + "(1.2.840.10008.1.2.4.90)")
        XCTAssertEqual(byPath["FLAIR/dangling"]?.kind, "unreadable")
        let mixed = try XCTUnwrap(result.metadata.errors.first { $0.kind == "mixed_sizes" })
        XCTAssertEqual(mixed.message.components(separatedBy: ": ").last, "2 × 32x32, 1 × 16x16")
        if getuid() == 0 {
            XCTAssertTrue(result.metadata.errors.contains { $0.kind == "no_mri_type" && $0.message.hasPrefix("locked:") })
        } else {
            XCTAssertEqual(byPath["locked/image"]?.kind, "unreadable")
        }
        // One line each.
        XCTAssertFalse(result.metadata.errors.contains { $0.description.contains("\n") })
    }

    /// Files with non-finite or inconsistent header values among a good series (same SeriesInstanceUID): each is
    /// a per-file error naming the file and the attribute, and the series is still built from the good slices and
    /// written (its JSON must encode: a NaN or infinity used to make the whole series directory fail).
    func testInvalidHeaderFilesFailAloneAndTheSeriesIsWritten() throws {
        let study = try temporaryDirectory(self).appendingPathComponent("study")
        let flair = study.appendingPathComponent("FLAIR")
        try copyFiles(of: ingestionFixtures.appendingPathComponent("study/00007/FLAIR"), into: flair)
        let invalid = dicomFixtures.appendingPathComponent("invalid")
        let bad = try FileManager.default.contentsOfDirectory(atPath: invalid.path).sorted()
        XCTAssertEqual(bad.count, 17)
        try copyFiles(of: invalid, into: flair)
        let reference = try StudyIngestor().ingest(study: ingestionFixtures.appendingPathComponent("study/00007"))

        let output = try temporaryDirectory(self).appendingPathComponent("out")
        let metadata = try StudyIngestor().ingest(study: study, into: output)
        XCTAssertEqual(metadata.series.map(\.dir), ["FLAIR"])
        XCTAssertEqual(metadata.series.first?.slices, reference.metadata.series.first?.slices)
        let written = try SeriesDirectory(output.appendingPathComponent("FLAIR")).readIngested()
        XCTAssertEqual(written.image.shape, reference.series.first?.image.shape)
        XCTAssertEqual(written.image.values, reference.series.first?.image.values)
        let byPath = Dictionary(metadata.errors.compactMap { e in e.path.map { ($0, e) } }, uniquingKeysWith: { a, _ in a })
        for name in bad {
            let issue = try XCTUnwrap(byPath["FLAIR/\(name)"], name)
            XCTAssertTrue(["invalid_attribute", "unsupported_pixel_format", "unsupported_transfer_syntax"]
                .contains(issue.kind), "\(name): \(issue)")
            XCTAssertTrue(issue.message.hasPrefix("FLAIR/\(name): "), issue.message)
        }
        XCTAssertTrue(byPath["FLAIR/rescale_slope_nan.dcm"]?.message.contains("RescaleSlope") ?? false)
        XCTAssertTrue(byPath["FLAIR/position_nan.dcm"]?.message.contains("ImagePositionPatient") ?? false)
    }

    /// Files without SeriesInstanceUID are left out with one clear error; the rest of the study goes on.
    func testSeriesWithoutSeriesInstanceUIDIsReported() throws {
        let study = try temporaryDirectory(self).appendingPathComponent("study")
        try copyFiles(of: ingestionFixtures.appendingPathComponent("study/00007/FLAIR"), into: study.appendingPathComponent("FLAIR"))
        try copyFiles(of: ingestionFixtures.appendingPathComponent("no_series_uid"), into: study.appendingPathComponent("T2w"))
        let result = try StudyIngestor().ingest(study: study)
        XCTAssertEqual(result.metadata.series.map(\.dir), ["FLAIR"])
        let issue = try XCTUnwrap(result.metadata.errors.first { $0.kind == "missing_series_instance_uid" })
        XCTAssertEqual(issue.message, "T2w: 3 file(s) without SeriesInstanceUID (0020,000E) left out")
        XCTAssertEqual(issue.path, "T2w")
        XCTAssertFalse(result.metadata.series.contains { $0.seriesInstanceUid.isEmpty })
    }

    func testEmptyStudyFolderIsRecorded() throws {
        let empty = try temporaryDirectory(self)
        let result = try StudyIngestor().ingest(study: empty)
        XCTAssertEqual(result.metadata.errors.map(\.kind), ["empty_study"])
        XCTAssertTrue(result.series.isEmpty)
    }

    func testStudyWithoutRecognisableSeries() throws {
        let study = try temporaryDirectory(self)
        try copyItem(dicomFixtures.appendingPathComponent("MR_small.dcm"), to: study.appendingPathComponent("misc/a"))
        try copyItem(dicomFixtures.appendingPathComponent("bad_text.dcm"), to: study.appendingPathComponent("notes"))
        let result = try StudyIngestor().ingest(study: study)
        XCTAssertEqual(result.metadata.errors.map(\.kind).sorted(), ["no_mri_type", "no_series", "not_dicom"])
        XCTAssertEqual(result.metadata.patientId, "4MR1")
        XCTAssertTrue(result.series.isEmpty)
    }

    func testMissingStudyFolderThrows() {
        XCTAssertThrowsError(try StudyIngestor().ingest(study: URL(fileURLWithPath: "/nonexistent/study"))) { error in
            XCTAssertEqual("\(error)", "/nonexistent/study: not a readable study folder")
        }
    }
}

final class MultiFrameIngestTests: XCTestCase {
    /// A 3-frame file becomes 3 slices (frame order); frame 0 is all negative after rescale, so it is dropped.
    func testMultiFrameFileIsSplitIntoSlices() throws {
        let study = try temporaryDirectory(self)
        try copyItem(dicomFixtures.appendingPathComponent("ramp12_explicit.dcm"), to: study.appendingPathComponent("FLAIR/x"))
        let result = try StudyIngestor().ingest(study: study)
        let series = try XCTUnwrap(result.series.first?.metadata)
        XCTAssertEqual(series.slicesTotal, 3)
        XCTAssertEqual(series.slicesNonempty, 2)
        XCTAssertEqual(series.instanceNumbers, [7, 7])
        XCTAssertEqual(series.orderCheck.status, .unchecked)
        let stored = try Data(contentsOf: dicomFixtures.appendingPathComponent("ramp12_expected.i32")).withUnsafeBytes {
            Array($0.bindMemory(to: Int32.self))
        }
        XCTAssertEqual(series.intensity, IntensityRange(min: Float(stored[320]) * 0.5 - 10.25,
                                                        max: Float(stored[959]) * 0.5 - 10.25))
        XCTAssertEqual(result.series.first?.image.shape, [2, 16, 20])
    }
}
