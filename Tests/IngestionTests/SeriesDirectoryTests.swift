import Foundation
import Ingestion
import SeriesFiles
import XCTest

final class SeriesDirectoryTests: XCTestCase {
    func testSingleArraysReadBackAndAShapeDisagreementIsAnError() throws {
        let out = try temporaryDirectory(self).appendingPathComponent("out")
        let metadata = try StudyIngestor().ingest(study: ingestionFixtures.appendingPathComponent("study/00007"), into: out)
        let directory = StudyDirectory(out).series(try XCTUnwrap(metadata.series.first))
        let series = try directory.readIngested()
        XCTAssertEqual(series.image.shape, [12, 32, 32])
        XCTAssertEqual(try directory.readFloatImage(metadata: series.metadata).values,
                       series.image.values)
        XCTAssertEqual(try directory.readUInt8Image(metadata: series.metadata).values,
                       series.imageUInt8.values)
        XCTAssertEqual(try StudyDirectory(out).readMetadata(), metadata)

        var wrong = series.metadata
        wrong.slices = 11
        XCTAssertThrowsError(try directory.readUInt8Image(metadata: wrong)) { error in
            XCTAssertEqual("\(error)", directory.url.appendingPathComponent("image_uint8.npy").path
                           + ": array shape [12, 32, 32] disagrees with series.json [11, 32, 32]")
        }
    }
}
