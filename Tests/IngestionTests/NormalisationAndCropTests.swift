import ArrayFiles
import Foundation
import Imaging
import Ingestion
import XCTest

/// A (S, H, W) float32 or uint8 .npy fixture as a volume.
private func volume<T>(_ name: String, _ values: (NpyArray) -> [T]?) throws -> SeriesVolume<T> {
    let array = try NpyArray(contentsOf: ingestionFixtures.appendingPathComponent(name))
    XCTAssertEqual(array.shape.count, 3)
    return SeriesVolume(slices: array.shape[0], rows: array.shape[1], columns: array.shape[2],
                        values: try XCTUnwrap(values(array)))
}

private struct ExpectedSeries: Decodable {
    var slices_total: Int
    var slices_nonempty: Int
    var min: Float
    var max: Float
    var instance_numbers: [Int]
    var crops: [String: [[Int]]]
}

final class NormalisationAndCropTests: XCTestCase {
    private func expected() throws -> ExpectedSeries {
        try JSONDecoder().decode(ExpectedSeries.self,
                                 from: Data(contentsOf: ingestionFixtures.appendingPathComponent("expected_crop.json")))
    }

    /// The shuffled-name FLAIR fixture ingests to NumPy's order, empty-slice drop, normalisation and uint8.
    func testIngestMatchesNumPyReference() throws {
        let reference = try expected()
        let expectedFloat = try volume("expected_float.npy", \.float32Values)
        let expectedUInt8 = try volume("expected_uint8.npy", \.uint8Values)
        let study = try StudyIngestor().ingest(study: ingestionFixtures.appendingPathComponent("study/00007"))
        XCTAssertEqual(study.metadata.errors, [])
        XCTAssertEqual(study.series.count, 1)
        let series = try XCTUnwrap(study.series.first)
        XCTAssertEqual(series.metadata.mriType, .flair)
        XCTAssertEqual(series.metadata.slicesTotal, reference.slices_total)
        XCTAssertEqual(series.metadata.slicesNonempty, reference.slices_nonempty)
        XCTAssertEqual(series.metadata.instanceNumbers, reference.instance_numbers)
        XCTAssertEqual(series.metadata.intensity, IntensityRange(min: reference.min, max: reference.max))
        XCTAssertEqual(series.metadata.orderCheck.status, .consistent)
        XCTAssertEqual(series.image.shape, expectedFloat.shape)
        let worst = zip(series.image.values, expectedFloat.values).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4)
        XCTAssertEqual(series.imageUInt8.values, expectedUInt8.values)
        XCTAssertEqual(series.image.values.max(), 255)
    }

    func testProjectionCropMatchesNumPy() throws {
        let reference = try expected()
        let volume = try volume("expected_float.npy", \.float32Values)
        XCTAssertEqual(reference.crops.count, 4)
        for (threshold, ranges) in reference.crops {
            let crop = ProjectionCrop(of: volume, threshold: try XCTUnwrap(Double(threshold)))
            XCTAssertEqual([crop.slices, crop.rows, crop.columns].map { [$0.lower, $0.upper] }, ranges, threshold)
        }
        // The in-plane crop is non-trivial on this phantom (the head does not fill the field of view).
        XCTAssertNotEqual(reference.crops["1e-06"]?[1], [0, 32])
    }

    func testInPlaneCropOptionCropsTheStoredArrays() throws {
        let reference = try expected()
        let ranges = try XCTUnwrap(reference.crops["1e-06"])
        var options = IngestOptions()
        options.cropInPlane = true
        let series = try XCTUnwrap(StudyIngestor(options: options)
            .ingest(study: ingestionFixtures.appendingPathComponent("study/00007")).series.first)
        XCTAssertEqual(series.image.shape, ranges.map { $0[1] - $0[0] })
        XCTAssertEqual(series.metadata.crop.applied, ["slices", "rows", "columns"])
        let full = try volume("expected_float.npy", \.float32Values)
        let cropped = full.cropped(slices: ranges[0][0]..<ranges[0][1], rows: ranges[1][0]..<ranges[1][1],
                                   columns: ranges[2][0]..<ranges[2][1])
        let worst = zip(series.image.values, cropped.values).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4)
    }

    func testSliceAxisCropRemovesBlankSlabs() {
        // 5 slices of 2×2; slices 0 and 4 blank, slice 3 faint.
        let values: [Float] = [0, 0, 0, 0, 1, 2, 3, 4, 5, 5, 5, 5, 0, 0.001, 0, 0, 0, 0, 0, 0]
        let volume = SeriesVolume(slices: 5, rows: 2, columns: 2, values: values)
        let crop = ProjectionCrop(of: volume, threshold: 1e-6)
        XCTAssertEqual(crop.slices.range, 1..<4)
        XCTAssertEqual(crop.rows.range, 0..<2)
        XCTAssertEqual(ProjectionCrop(of: volume, threshold: 0.1).slices.range, 1..<3)
        // Nothing reaches the threshold: NumPy's argmax keeps the whole axis.
        XCTAssertEqual(ProjectionCrop(of: volume, threshold: 100).slices.range, 0..<5)
    }

    func testEmptySliceRuleAndConstantSeries() {
        XCTAssertTrue(isNonEmptySlice([1, 0, 0, 0, 0, 0, 0, 0, 0]))  // 11 % > 10 %
        XCTAssertFalse(isNonEmptySlice([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))  // exactly 10 % is not more
        XCTAssertFalse(isNonEmptySlice([-5, -5, -5, -5]))
        let constant = normalisedVolume(slices: [[7, 7], [7, 7]], rows: 1, columns: 2,
                                        range: IntensityRange(min: 7, max: 7))
        XCTAssertEqual(constant.values, [0, 0, 0, 0])
        let ramp = normalisedVolume(slices: [[10, 20, 30, 40]], rows: 2, columns: 2,
                                    range: IntensityRange(min: 10, max: 40))
        XCTAssertEqual(ramp.values, [0, 85, 170, 255])
        XCTAssertEqual(truncatedToUInt8(SeriesVolume(slices: 1, rows: 1, columns: 3, values: [0.99, 254.999, 255])).values,
                       [0, 254, 255])
    }
}
