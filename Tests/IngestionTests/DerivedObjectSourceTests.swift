import DICOM
import Domain
import Foundation
import Ingestion
import SeriesFiles
import XCTest

/// What ingest keeps for the DICOM objects derived from a study (SEG, SR): each stored slice's source instance,
/// the series' frame of reference and the study's patient and study attributes, in series.json and study.json.
final class DerivedObjectSourceTests: XCTestCase {
    func testEveryStoredSliceNamesItsSourceInstanceAndTheStudyAttributesAreKept() throws {
        let scratch = try temporaryDirectory(self)
        try runProgram("/usr/bin/python3", [repositoryRoot.appendingPathComponent("tools/testdata/make_study.py").path,
                                            "--out", scratch.appendingPathComponent("in").path, "--slices", "16",
                                            "--size", "32", "--seed", "3", "--traps"])
        let input = scratch.appendingPathComponent("in/00042")
        let out = scratch.appendingPathComponent("out")
        let written = try StudyIngestor().ingest(study: input, into: out)
        let study = try StudyDirectory(out).read()

        // Every DICOM file of the input by SOP Instance UID, read independently of ingest.
        let paths = FileManager.default.enumerator(atPath: input.path)?.compactMap { $0 as? String } ?? []
        let files = Dictionary(uniqueKeysWithValues: paths.compactMap { try? DicomFile(path: input.appendingPathComponent($0).path) }
            .map { ($0.header.sopInstanceUid, $0.header) })
        let attributes = try XCTUnwrap(written.attributes)
        XCTAssertEqual(attributes.patientName, "Synthetic^Phantom")
        XCTAssertEqual(attributes.patientId, "00042")
        XCTAssertEqual(attributes.studyInstanceUid, written.studyInstanceUid)
        for series in study.series.map(\.metadata) {
            let sources = try XCTUnwrap(series.sliceSources, series.mriType.rawValue)
            XCTAssertEqual(sources.count, series.slices)
            for (index, source) in sources.enumerated() {
                let header = try XCTUnwrap(files[source.sopInstanceUid], "slice \(index) names a file of the study")
                XCTAssertEqual(header.seriesInstanceUid, series.seriesInstanceUid)
                XCTAssertEqual(source.sopClassUid, header.sopClassUid)
                XCTAssertEqual(source.sopClassUid, "1.2.840.10008.5.1.4.1.1.4", "MR Image Storage")
                XCTAssertNil(source.frameNumber)
                // The slice order is the stored order: instance numbers and positions agree with the source file.
                XCTAssertEqual(series.instanceNumbers[index], header.instanceNumber)
                XCTAssertEqual(series.geometry.imagePositionPatient[index], header.imagePositionPatient)
            }
            XCTAssertEqual(series.geometry.frameOfReferenceUid, "", "the generated study has no frame of reference")
            XCTAssertEqual(series.study, attributes)
        }
    }

    func testASchema1SeriesDocumentStillReadsAndANewerSchemaIsAClearError() throws {
        let scratch = try temporaryDirectory(self)
        let out = scratch.appendingPathComponent("out")
        let metadata = try StudyIngestor().ingest(study: ingestionFixtures.appendingPathComponent("study/00007"), into: out)
        let directory = StudyDirectory(out).series(try XCTUnwrap(metadata.series.first))
        let path = directory.url(of: .metadata)

        // A schema 1 document, as earlier versions wrote it: no slice sources, frame of reference or attributes.
        var document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [String: Any])
        document["schema"] = 1
        document["slice_sources"] = nil
        document["study"] = nil
        var geometry = try XCTUnwrap(document["geometry"] as? [String: Any])
        geometry["frame_of_reference_uid"] = nil
        document["geometry"] = geometry
        try JSONSerialization.data(withJSONObject: document).write(to: path)
        let old = try directory.readMetadata()
        XCTAssertEqual(old.schema, 1)
        XCTAssertNil(old.sliceSources)
        XCTAssertNil(old.study)
        XCTAssertNil(old.geometry.frameOfReferenceUid)
        XCTAssertEqual(old.seriesInstanceUid, metadata.series.first?.seriesInstanceUid)

        document["schema"] = 99
        try JSONSerialization.data(withJSONObject: document).write(to: path)
        XCTAssertThrowsError(try directory.readMetadata()) {
            XCTAssertEqual("\($0)", "\(path.path): schema 99 is not one this version reads (1 to 2)")
        }
    }
}
