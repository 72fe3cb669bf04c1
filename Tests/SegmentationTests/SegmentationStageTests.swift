import ArrayFiles
import Foundation
import Imaging
import Inference
import Ingestion
import Segmentation
import XCTest

final class SegmentationStageTests: XCTestCase {
    /// The stage on a 3-slice 150×182 phantom series equals T4E's PyTorch + albumentations pipeline
    /// (tools/reference/seg_fixtures.py): thresholded 224×224 masks agree except where the reference probability
    /// is within 1e-4 of 0.5, the inverse transform is exact, and the final masks agree.
    func testMasksEqualReferencePipeline() throws {
        let fixtures = try loadFixtures("stage_parity.safetensors")
        let (slices, height, width) = (3, 150, 182)
        let series = try fixtures.tensor("series", shape: [slices, height, width])
        let volume = SeriesVolume(slices: slices, rows: height, columns: width, values: series.storage)
        let stage = SegmentationStage(model: try seededModel.get(), weightsSHA256: "seeded", threads: 2)

        let probabilities = try stage.probabilities(volume)
        let reference224 = try fixtures.tensor("masks224", shape: [slices, 2, 224, 224]).storage
        let ambiguous = Set(try fixtures.tensor("ambiguous224_indices").storage.map { Int($0) })
        var disagreements = 0, ambiguousDisagreements = 0
        for (i, p) in probabilities.storage.enumerated() where (p > 0.5 ? 1 : 0) != reference224[i] {
            if ambiguous.contains(i) { ambiguousDisagreements += 1 } else { disagreements += 1 }
        }
        XCTAssertEqual(disagreements, 0, "224×224 mask pixels that differ from PyTorch away from 0.5")

        // Post-processing alone, on the reference's own 224×224 masks: bit-exact.
        let referenceMasks = try fixtures.tensor("masks", shape: [slices, 2, height, width]).storage
        let plane224 = 224 * 224, plane = height * width
        for p in 0..<(slices * 2) {
            let mask = try Image(width: 224, height: 224, pixels: reference224[(p * plane224)..<((p + 1) * plane224)].map { UInt8($0) })
            let restored = try SegmentationStage.maskToSliceSize(mask, width: width, height: height)
            XCTAssertEqual(restored.pixels.map(Float.init), Array(referenceMasks[(p * plane)..<((p + 1) * plane)]), "plane \(p)")
        }

        // The whole stage: identical masks unless an ambiguous pixel flipped.
        let masks = try stage.masks(volume)
        XCTAssertEqual(masks.shape, [slices, 2, height, width])
        let values = try XCTUnwrap(masks.uint8Values)
        let differing = zip(values, referenceMasks).filter { Float($0.0) != $0.1 }.count
        if ambiguousDisagreements == 0 {
            XCTAssertEqual(differing, 0)
        } else {
            XCTAssertLessThan(differing, 20 * ambiguousDisagreements)
        }
        XCTAssertGreaterThan(values.filter { $0 == 1 }.count, values.count / 10, "masks are not trivially empty")
    }

    /// Pre-processing matches albumentations (Resize 268, CenterCrop 224, Normalize) on the phantom slice.
    func testModelInputMatchesAlbumentations() throws {
        let fixtures = try loadFixtures("model_parity.safetensors")
        let slice = try Image(width: 240, height: 240, pixels: try fixtures.tensor("phantom_slice", shape: [240, 240]).storage)
        let input = try SegmentationStage.modelInput(slice)
        let expected = try fixtures.tensor("phantom_input", shape: [3, 224, 224]).storage
        XCTAssertLessThanOrEqual(maxAbsDifference(input, expected), 1e-5)
    }

    /// `run` on the output of the ingest stage (the ingest fixture study) writes masks.npy (S, 2, H, W) uint8 in
    /// ingest order and segmentation.json with the weights' hash.
    func testRunWritesMasksAndRecordForIngestedStudy() throws {
        let studyFolder = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("IngestionTests/Fixtures/study/00007")
        let out = temporaryURL("study")
        defer { try? FileManager.default.removeItem(at: out) }
        let metadata = try StudyIngestor().ingest(study: studyFolder, into: out)
        // Two slices per series keep the test short; ingest order is what matters.
        var study = [IngestedSeries]()
        for entry in metadata.series {
            let directory = out.appendingPathComponent(entry.dir)
            var series = try IngestedSeries.read(from: directory)
            let kept = 0..<min(2, series.image.slices)
            let (rows, columns) = (0..<series.image.rows, 0..<series.image.columns)
            series.image = series.image.cropped(slices: kept, rows: rows, columns: columns)
            series.imageUInt8 = series.imageUInt8.cropped(slices: kept, rows: rows, columns: columns)
            series.metadata.slices = kept.count
            try series.write(to: directory)
            study.append(series)
        }
        let stage = SegmentationStage(model: try seededModel.get(), weightsSHA256: "abc123", threads: 2)
        let records = try stage.run(studyDirectory: out)
        XCTAssertEqual(records.count, study.count)
        XCTAssertFalse(study.isEmpty)
        for (entry, series) in zip(metadata.series, study) {
            let directory = out.appendingPathComponent(entry.dir)
            let masks = try NpyArray(contentsOf: directory.appendingPathComponent(SegmentationStage.masksFileName))
            XCTAssertEqual(masks.shape, [series.image.slices, 2, series.image.rows, series.image.columns])
            XCTAssertTrue(try XCTUnwrap(masks.uint8Values).allSatisfy { $0 <= 1 })
            let record = try JSONDecoder().decode(SegmentationRecord.self,
                                                  from: Data(contentsOf: directory.appendingPathComponent(SegmentationStage.recordFileName)))
            XCTAssertEqual(record.weightsSHA256, "abc123")
            XCTAssertEqual(record.slices, series.image.slices)
        }
    }

    func testMissingWeightsAndMissingInputAreClearErrors() throws {
        XCTAssertThrowsError(try SegmentationStage(modelDirectory: temporaryURL("no-models"))) { error in
            XCTAssertTrue("\(error)".contains("segmentation weights not found"), "\(error)")
        }
        let stage = SegmentationStage(model: try seededModel.get(), weightsSHA256: "x", threads: 1)
        let missing = temporaryURL("not-ingested")
        XCTAssertThrowsError(try stage.run(studyDirectory: missing)) {
            XCTAssertEqual($0 as? SegmentationStageError, .notIngestOutput(path: missing.path))
        }
        XCTAssertThrowsError(try stage.run(seriesDirectory: missing)) {
            XCTAssertEqual($0 as? SegmentationStageError, .notIngestOutput(path: missing.path))
        }
    }
}
