import Foundation
import Ingestion
import XCTest

final class SeriesDirectoryTests: XCTestCase {
    func testSingleArraysReadBackAndAShapeDisagreementIsAnError() throws {
        let out = try temporaryDirectory(self).appendingPathComponent("out")
        let metadata = try StudyIngestor().ingest(study: ingestionFixtures.appendingPathComponent("study/00007"), into: out)
        let directory = out.appendingPathComponent(try XCTUnwrap(metadata.series.first?.dir))
        let series = try IngestedSeries.read(from: directory)
        XCTAssertEqual(series.image.shape, [12, 32, 32])
        XCTAssertEqual(try IngestedSeries.readFloatImage(from: directory, metadata: series.metadata).values,
                       series.image.values)
        XCTAssertEqual(try IngestedSeries.readUInt8Image(from: directory, metadata: series.metadata).values,
                       series.imageUInt8.values)
        XCTAssertEqual(try IngestedStudy.readMetadata(from: out), metadata)

        var wrong = series.metadata
        wrong.slices = 11
        XCTAssertThrowsError(try IngestedSeries.readUInt8Image(from: directory, metadata: wrong)) { error in
            XCTAssertEqual("\(error)", directory.appendingPathComponent("image_uint8.npy").path
                           + ": array shape [12, 32, 32] disagrees with series.json [11, 32, 32]")
        }
    }
}
