import Foundation
import Ingestion
import SeriesFiles
import XCTest

/// Studies made by tools/testdata/make_study.py (Debian's python3 + pydicom + DCMTK tools) in a temporary folder.
final class GeneratedStudyTests: XCTestCase {
    private func makeStudy(traps: Bool, in directory: URL) throws -> URL {
        let script = repositoryRoot.appendingPathComponent("tools/testdata/make_study.py").path
        var arguments = [script, "--out", directory.path, "--slices", "20", "--size", "40", "--seed", "5"]
        if traps { arguments.append("--traps") }
        try runProgram("/usr/bin/python3", arguments)
        return directory.appendingPathComponent("00042")
    }

    func testTrapStudyIsOrderedSeparatedAndReported() throws {
        let scratch = try temporaryDirectory(self)
        let trapped = try StudyIngestor().ingest(study: try makeStudy(traps: true, in: scratch.appendingPathComponent("traps")))
        let plain = try StudyIngestor().ingest(study: try makeStudy(traps: false, in: scratch.appendingPathComponent("plain")))

        XCTAssertEqual(trapped.metadata.series.map(\.dir), ["FLAIR", "T1w", "T1wCE", "T2w"])
        XCTAssertEqual(trapped.metadata.patientId, "00042")
        for series in trapped.series.map(\.metadata) {
            // Shuffled, partly extension-less file names: the order still follows InstanceNumber.
            let numbers = series.instanceNumbers.compactMap { $0 }
            XCTAssertEqual(numbers.count, series.slices, series.mriType.rawValue)
            XCTAssertEqual(numbers, numbers.sorted(), series.mriType.rawValue)
            XCTAssertEqual(series.orderCheck.method, .instanceNumber)
            // T2w misses the file of instance 11: a gap in position and numbering.
            XCTAssertEqual(series.orderCheck.status, series.mriType == .t2w ? .gaps : .consistent, series.mriType.rawValue)
            XCTAssertEqual(series.slicesTotal, series.mriType == .t2w ? 19 : 20)
            // Blank end slices (outside the head) are dropped.
            XCTAssertLessThan(series.slicesNonempty, 20)
            XCTAssertEqual(series.slices, series.slicesNonempty)
            XCTAssertEqual(numbers.first.map { $0 > 1 }, true)
        }
        let byType = Dictionary(uniqueKeysWithValues: trapped.series.map { ($0.metadata.mriType, $0) })
        // The sagittal T2w series.
        XCTAssertEqual(byType[.t2w]?.metadata.geometry.imageOrientationPatient, [0, 1, 0, 0, 0, -1])
        // T1wCE from SeriesDescription in folder "series_7".
        XCTAssertEqual(byType[.t1wCE]?.metadata.sourceFolder, "series_7")
        XCTAssertEqual(byType[.t1wCE]?.metadata.mriTypeSource, "series_description")
        // Seven transfer syntaxes in T1w decode to the same pixels as the plain study's explicit-LE T1w.
        let mixed = try XCTUnwrap(byType[.t1w])
        XCTAssertEqual(mixed.metadata.transferSyntaxes.count, 7)
        let reference = try XCTUnwrap(plain.series.first { $0.metadata.mriType == .t1w })
        XCTAssertEqual(reference.metadata.transferSyntaxes.map(\.uid), ["1.2.840.10008.1.2.1"])
        XCTAssertEqual(mixed.image.values, reference.image.values)
        XCTAssertEqual(mixed.metadata.intensity, reference.metadata.intensity)
        // The localizer mixed into FLAIR is separated, reported, and not ingested; the text file is an error.
        XCTAssertEqual(byType[.t2w]?.metadata.orderCheck.detail,
                       "gap of 20.00 mm between instance 10 and instance 12 (spacing 10.00 mm); instance numbers skip: 10→12")
        XCTAssertEqual(trapped.metadata.warnings.map(\.kind), ["mixed_series_in_folder", "order_check_gaps"])
        XCTAssertEqual(Set(trapped.metadata.errors.map(\.kind)), ["no_mri_type", "not_dicom"])
        XCTAssertEqual(trapped.metadata.errors.first { $0.kind == "not_dicom" }?.path, "README.txt")
        XCTAssertTrue(trapped.metadata.errors.contains { $0.message.contains("'LOCALIZER'") })
        XCTAssertEqual(plain.metadata.errors, [])
        XCTAssertEqual(plain.metadata.warnings, [])
    }

    /// The series directory contract: study.json + per series series.json, image_float.npy, image_uint8.npy,
    /// readable back through the Swift types and by NumPy.
    func testWrittenStudyReadsBackAndLoadsInNumPy() throws {
        let scratch = try temporaryDirectory(self)
        let input = try makeStudy(traps: false, in: scratch.appendingPathComponent("in"))
        let study = try StudyIngestor().ingest(study: input)
        let out = scratch.appendingPathComponent("out")
        let written = try StudyIngestor().ingest(study: input, into: out)
        XCTAssertEqual(written, study.metadata)
        let back = try StudyDirectory(out).read()
        XCTAssertEqual(back.metadata, study.metadata)
        for (a, b) in zip(back.series, study.series) {
            XCTAssertEqual(a.metadata, b.metadata)
            XCTAssertEqual(a.image.values, b.image.values)
            XCTAssertEqual(a.imageUInt8.values, b.imageUInt8.values)
        }
        let flair = out.appendingPathComponent("FLAIR").path
        let numpy = try runProgram("/usr/bin/python3", ["-c", """
            import json, sys, numpy as np
            d = sys.argv[1]
            f = np.load(d + '/image_float.npy'); u = np.load(d + '/image_uint8.npy')
            s = json.load(open(d + '/series.json')); t = json.load(open(d + '/../study.json'))
            assert (u == f.astype(np.uint8)).all()
            print(f.dtype, f.shape, u.dtype, u.shape, float(f.max()), s['mri_type'], s['slices'],
                  t['schema'], [e['dir'] for e in t['series']])
            """, flair])
        let meta = try XCTUnwrap(study.series.first?.metadata)
        XCTAssertEqual(numpy.trimmingCharacters(in: .whitespacesAndNewlines),
                       "float32 (\(meta.slices), 40, 40) uint8 (\(meta.slices), 40, 40) 255.0 FLAIR \(meta.slices) 2 "
                       + "['FLAIR', 'T1w', 'T1wCE', 'T2w']")
    }
}
