import Domain
import Ingestion
import SeriesFiles
import XCTest

private let axial: [Double] = [1, 0, 0, 0, 1, 0]

private func slice(_ number: Int?, z: Double?) -> SlicePlacement {
    SlicePlacement(instanceNumber: number, position: z.map { [-120, -120, $0] }, orientation: z == nil ? nil : axial)
}

final class SliceOrderingTests: XCTestCase {
    func testInstanceNumbersOrderWhateverTheInputOrder() throws {
        let slices = [slice(3, z: 6), slice(1, z: 0), slice(4, z: 9), slice(2, z: 3)]
        let (order, check) = try orderSlices(slices)
        XCTAssertEqual(order, [1, 3, 0, 2])
        XCTAssertEqual(check.method, .instanceNumber)
        XCTAssertEqual(check.status, .consistent)
        XCTAssertEqual(check.spacing, 3)
    }

    func testDescendingPositionsAreConsistentToo() throws {
        let (order, check) = try orderSlices([slice(1, z: 9), slice(2, z: 6), slice(3, z: 3)])
        XCTAssertEqual(order, [0, 1, 2])
        XCTAssertEqual(check.status, .consistent)
    }

    func testGeometryDisagreementIsReported() throws {
        let (order, check) = try orderSlices([slice(1, z: 0), slice(2, z: 6), slice(3, z: 3), slice(4, z: 9)])
        XCTAssertEqual(order, [0, 1, 2, 3])
        XCTAssertEqual(check.status, .disagrees)
        XCTAssertEqual(check.detail, "ImagePositionPatient: instance 3 moves back from instance 2")
    }

    func testGapsInPositionAndInstanceNumbersAreReported() throws {
        let spatial = try orderSlices([slice(1, z: 0), slice(2, z: 3), slice(3, z: 12), slice(4, z: 15)]).check
        XCTAssertEqual(spatial.status, .gaps)
        XCTAssertEqual(spatial.detail, "gap of 9.00 mm between instance 2 and instance 3 (spacing 3.00 mm)")
        let numbering = try orderSlices([slice(1, z: 0), slice(2, z: 3), slice(5, z: 6)]).check
        XCTAssertEqual(numbering.status, .gaps)
        XCTAssertEqual(numbering.detail, "instance numbers skip: 2→5")
    }

    func testGeometryOrdersWhenInstanceNumbersAreMissingOrDuplicated() throws {
        let missing = try orderSlices([slice(nil, z: 6), slice(nil, z: 0), slice(nil, z: 3)])
        XCTAssertEqual(missing.order, [1, 2, 0])
        XCTAssertEqual(missing.check.method, .geometry)
        XCTAssertEqual(missing.check.status, .consistent)
        XCTAssertEqual(missing.check.detail, "InstanceNumber missing on 3 of 3 slices")
        let duplicated = try orderSlices([slice(1, z: 3), slice(1, z: 0), slice(2, z: 6)])
        XCTAssertEqual(duplicated.order, [1, 0, 2])
        XCTAssertEqual(duplicated.check.detail, "InstanceNumber duplicated")
    }

    func testNoInstanceNumbersAndNoGeometryCannotBeOrdered() {
        XCTAssertThrowsError(try orderSlices([slice(nil, z: nil), slice(nil, z: nil)])) { error in
            XCTAssertEqual("\(error)", "cannot order slices: InstanceNumber missing on 2 of 2 slices, and no "
                           + "ImagePositionPatient/ImageOrientationPatient to order by")
        }
    }

    func testMultiFrameFilesOrderByInstanceThenFrame() throws {
        let frames = [(2, 0), (1, 1), (2, 1), (1, 0)].map {
            SlicePlacement(instanceNumber: $0.0, frame: $0.1, isMultiFrame: true, position: [0, 0, 0], orientation: axial)
        }
        let (order, check) = try orderSlices(frames)
        XCTAssertEqual(order, [3, 1, 0, 2])
        XCTAssertEqual(check.status, .unchecked)
    }

    func testSeriesDescriptionRules() throws {
        let rules = SeriesDescriptionRules.standard
        XCTAssertEqual(rules.mriType(seriesDescription: "AX T2 FLAIR"), .flair)
        XCTAssertEqual(rules.mriType(seriesDescription: "AX T1 POST GAD"), .t1wCE)
        XCTAssertEqual(rules.mriType(seriesDescription: "t1_mprage_sag_p2 +C"), .t1wCE)
        XCTAssertEqual(rules.mriType(seriesDescription: "SAG T1 MPRAGE"), .t1w)
        XCTAssertEqual(rules.mriType(seriesDescription: "AX T2 FSE"), .t2w)
        XCTAssertNil(rules.mriType(seriesDescription: "LOCALIZER"))
        XCTAssertEqual(MRIType(folderName: "t1wce"), .t1wCE)
        XCTAssertNil(MRIType(folderName: "series_7"))
        let custom = SeriesDescriptionRules(rules: [.init(type: .t2w, pattern: "^tse")])
        XCTAssertEqual(custom.mriType(seriesDescription: "TSE axial"), .t2w)
        XCTAssertNil(custom.mriType(seriesDescription: "AX T2"))
    }
}
