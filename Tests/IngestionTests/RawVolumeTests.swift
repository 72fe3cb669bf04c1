import ArrayFiles
import Domain
import Foundation
import Ingestion
import SeriesFiles
import XCTest

/// The 3D classifier's raw volume against pydicom: tools/testdata/make_voi_studies.py writes studies with and
/// without windows and VOI LUTs and, beside each, what `apply_voi_lut(pixel_array, ds).astype(float32)` makes of
/// its slices in InstanceNumber order (Debian's pydicom at test time: an independent reference).
final class RawVolumeTests: XCTestCase {
    private func makeStudies() throws -> URL {
        let out = try temporaryDirectory(self).appendingPathComponent("voi")
        try runProgram("/usr/bin/python3", [repositoryRoot.appendingPathComponent("tools/testdata/make_voi_studies.py").path,
                                            out.path])
        return out
    }

    private var volumeIngestor: StudyIngestor {
        var options = IngestOptions()
        options.volumeTypes = [.flair]
        return StudyIngestor(options: options)
    }

    func testVolumeEqualsPydicomApplyVOILUTForEveryWindowAndLUTCase() throws {
        let studies = try makeStudies()
        let cases = ["identity", "linear", "linear_signed_rescaled", "linear_exact", "sigmoid", "lut8_wrapping", "lut16"]
        for name in cases {
            let expected = try NpyArray(contentsOf: studies.appendingPathComponent("\(name).expected.npy"))
            let study = try volumeIngestor.ingest(study: studies.appendingPathComponent(name))
            let series = try XCTUnwrap(study.series.first, name)
            let volume = try XCTUnwrap(series.volume, name)
            XCTAssertEqual(volume.shape, expected.shape, name)
            XCTAssertEqual(series.metadata.volume?.shape, expected.shape, name)
            // Every slice, the empty one too, in InstanceNumber order; the 2D path dropped the empty slice.
            XCTAssertEqual(series.metadata.volume?.instanceNumbers, (1...6).map { $0 }, name)
            XCTAssertEqual(series.metadata.slicesNonempty, 5, name)
            let reference = try XCTUnwrap(expected.float32Values, name)
            for (index, (value, wanted)) in zip(volume.values, reference).enumerated() {
                // float64 arithmetic rounded to float32 on both sides; SIGMOID's exp may differ in the last bit.
                XCTAssertEqual(value, wanted, accuracy: name == "sigmoid" ? abs(wanted) * 1e-6 : 0,
                               "\(name) value \(index)")
            }
            XCTAssertEqual(study.metadata.errors, [], name)
        }
    }

    /// A slice whose window pydicom refuses (LINEAR width < 1) is left out of the volume only, with its error.
    func testSliceWithAnInapplicableWindowLeavesOnlyTheVolume() throws {
        let studies = try makeStudies()
        let study = try volumeIngestor.ingest(study: studies.appendingPathComponent("bad_window_slice"))
        let series = try XCTUnwrap(study.series.first)
        let expected = try NpyArray(contentsOf: studies.appendingPathComponent("bad_window_slice.expected.npy"))
        XCTAssertEqual(expected.shape, [5, 12, 10])
        XCTAssertEqual(series.volume?.shape, expected.shape)
        XCTAssertEqual(series.volume?.values, expected.float32Values)
        XCTAssertEqual(series.metadata.volume?.instanceNumbers.count, 5)
        XCTAssertEqual(series.metadata.slicesTotal, 6, "the 2D path keeps the slice")
        XCTAssertEqual(study.metadata.errors.map(\.kind), ["invalid_attribute"])
        XCTAssertTrue(study.metadata.errors[0].message.hasSuffix("(left out of the 3D volume only)"),
                      study.metadata.errors[0].message)
    }

    func testVolumeIsWrittenOnlyForTypesWithThe3DModelAndReadsBack() throws {
        let studies = try makeStudies()
        let out = try temporaryDirectory(self)
        try volumeIngestor.ingest(study: studies.appendingPathComponent("linear"), into: out.appendingPathComponent("with"))
        try StudyIngestor().ingest(study: studies.appendingPathComponent("linear"), into: out.appendingPathComponent("without"))
        let with = SeriesDirectory(out.appendingPathComponent("with/FLAIR"))
        let without = SeriesDirectory(out.appendingPathComponent("without/FLAIR"))
        XCTAssertTrue(with.contains(.volume))
        XCTAssertFalse(without.contains(.volume))
        let metadata = try with.readMetadata()
        let volume = try with.readRawVolume(metadata: metadata)
        let expected = try NpyArray(contentsOf: studies.appendingPathComponent("linear.expected.npy"))
        XCTAssertEqual(volume.shape, [6, 12, 10])
        XCTAssertEqual(volume.values, expected.float32Values)
        XCTAssertThrowsError(try without.readRawVolume(metadata: try without.readMetadata())) { error in
            XCTAssertEqual(error as? SeriesDirectoryError, .noRawVolume(path: without.url.path))
        }
        // The model directory decides: only types with classifier3d-<type>.safetensors keep a volume.
        let models = out.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Data().write(to: models.appendingPathComponent("classifier3d-T2w.safetensors"))
        try Data().write(to: models.appendingPathComponent("classifier-FLAIR.safetensors"))
        XCTAssertEqual(IngestOptions.volumeTypes(modelsDirectory: models), [.t2w])
    }
}
