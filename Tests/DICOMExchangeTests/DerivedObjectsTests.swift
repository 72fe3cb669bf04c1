// SEG and SR written from a generated study, checked by dciodvfy (dicom3tools) and read back by highdicom/pydicom.
import DICOM
import DICOMExchange
import Domain
import Foundation
import XCTest

final class DerivedObjectsTests: XCTestCase {
    private var output: URL!
    private let segmentationModel = DerivingAlgorithm(name: "UNet++ DenseNet121", weightsSha256: String(repeating: "ab", count: 32))

    override func setUpWithError() throws {
        output = try Peers.temporaryDirectory("derived")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: output)
    }

    /// The FLAIR series of the generated study in instance order, and masks: the WT mask is where the stored
    /// value is above a threshold on the middle slices, the ET mask a smaller part of it; the end slices are empty.
    private func flairSeries() throws -> (source: SegmentationSource, masks: [UInt8]) {
        let study = try Peers.study(traps: false)
        let files = try Peers.dicomFiles(under: study.appendingPathComponent("00042/FLAIR"))
            .map { try DicomFile(path: $0) }
            .sorted { ($0.header.instanceNumber ?? 0) < ($1.header.instanceNumber ?? 0) }
        let first = try XCTUnwrap(files.first).header
        let source = SegmentationSource(
            study: first.study, seriesInstanceUid: first.seriesInstanceUid, frameOfReferenceUid: first.frameOfReferenceUid,
            imageOrientationPatient: try XCTUnwrap(first.imageOrientationPatient),
            pixelSpacing: try XCTUnwrap(first.pixelSpacing), sliceThickness: first.sliceThickness,
            rows: first.rows, columns: first.columns,
            slices: try files.map {
                SourceSlice(sopClassUid: $0.header.sopClassUid, sopInstanceUid: $0.header.sopInstanceUid,
                            imagePositionPatient: try XCTUnwrap($0.header.imagePositionPatient))
            })
        var masks: [UInt8] = []
        for (index, file) in files.enumerated() {
            let values = try file.storedValues()
            let middle = index >= 3 && index < files.count - 3
            masks += values.map { middle && $0 > 600 ? 1 : 0 }
            masks += values.map { middle && index % 2 == 0 && $0 > 800 ? 1 : 0 }
        }
        return (source, masks)
    }

    func testSegmentationPassesDciodvfyAndHighdicomReadsTheMasksBack() throws {
        let (source, masks) = try flairSeries()
        XCTAssertTrue(source.study.patientBirthDate.isEmpty, "the generated study lacks type-2 attributes")
        let path = output.appendingPathComponent("seg.dcm").path
        let seg = try SegmentationWriter.write(source: source, masks: masks, algorithm: segmentationModel, to: path)
        XCTAssertGreaterThan(seg.frames, 0)

        XCTAssertEqual(try Peers.dciodvfyErrors(path), [])

        let masksPath = output.appendingPathComponent("masks.raw")
        try Data(masks).write(to: masksPath)
        let sourcesPath = output.appendingPathComponent("sources.json")
        try JSONEncoder().encode(source.slices.map(\.sopInstanceUid)).write(to: sourcesPath)
        let read = try Peers.peer(["check-seg", path, masksPath.path, sourcesPath.path])
        let frames = try XCTUnwrap(read["frames"] as? [[String: Any]])
        XCTAssertEqual(frames.count, seg.frames)
        for frame in frames { XCTAssertEqual(frame["equal"] as? Bool, true, "\(frame)") }
        let written = frames.map { [$0["source"] as? String ?? "", "\($0["segment"] as? Int ?? 0)"] }
        let expected = try XCTUnwrap(read["expected_frames"] as? [[Any]]).map { ["\($0[0])", "\($0[1])"] }
        XCTAssertEqual(written.sorted { $0.joined() < $1.joined() }, expected.sorted { $0.joined() < $1.joined() },
                       "one frame per (segment, source slice with any pixel of it), none else")
        XCTAssertEqual(read["study"] as? String, source.study.studyInstanceUid)
        XCTAssertNotEqual(read["series"] as? String, source.seriesInstanceUid)
        XCTAssertEqual(read["source_series"] as? [String], [source.seriesInstanceUid])
        let segments = try XCTUnwrap(read["segments"] as? [[String: Any]])
        XCTAssertEqual(segments.map { $0["number"] as? Int }, [1, 2])
        XCTAssertEqual(segments.map { $0["type"] as? String }, ["108369006", "C113842"])
        XCTAssertEqual(segments.map { $0["algorithm_type"] as? String }, ["AUTOMATIC", "AUTOMATIC"])
        XCTAssertEqual(segments.map { $0["algorithm_version"] as? String }, [segmentationModel.weightsSha256, segmentationModel.weightsSha256])

        // Deterministic per (source, weights): a re-run names the same object; other weights another one.
        let again = try SegmentationWriter.write(source: source, masks: masks, algorithm: segmentationModel,
                                                 to: output.appendingPathComponent("again.dcm").path)
        XCTAssertEqual(again.sopInstanceUid, seg.sopInstanceUid)
        XCTAssertEqual(again.seriesInstanceUid, seg.seriesInstanceUid)
        let other = SegmentationWriter.uids(sourceSeries: source.seriesInstanceUid,
                                            algorithm: DerivingAlgorithm(name: "x", weightsSha256: "cd"))
        XCTAssertNotEqual(other.sopInstance, seg.sopInstanceUid)
    }

    func testSegmentationWithoutAnyMaskPixelIsAClearError() throws {
        let (source, masks) = try flairSeries()
        XCTAssertThrowsError(try SegmentationWriter.write(source: source, masks: [UInt8](repeating: 0, count: masks.count),
                                                          algorithm: segmentationModel,
                                                          to: output.appendingPathComponent("empty.dcm").path)) {
            XCTAssertTrue("\($0)".contains("no mask pixel"), "\($0)")
        }
        XCTAssertThrowsError(try SegmentationWriter.write(source: source, masks: Array(masks.dropLast()),
                                                          algorithm: segmentationModel,
                                                          to: output.appendingPathComponent("short.dcm").path))
    }

    func testStructuredReportPassesDciodvfyAndHoldsTheProbabilities() throws {
        let (source, masks) = try flairSeries()
        let seg = try SegmentationWriter.write(source: source, masks: masks, algorithm: segmentationModel,
                                               to: output.appendingPathComponent("seg.dcm").path)
        let classifier = { (type: String) in DerivingAlgorithm(name: "ECA-NFNet-L0+BiLSTM \(type)", weightsSha256: String(repeating: "c", count: 64)) }
        let results = [
            StructuredReportWriter.SeriesResult(mriType: "FLAIR", seriesInstanceUid: source.seriesInstanceUid,
                                                probability: 0.61803398, chunkCount: 3, classifier: classifier("FLAIR"),
                                                segmentation: seg),
            StructuredReportWriter.SeriesResult(mriType: "T2w", seriesInstanceUid: "1.2.3.4", probability: 0.25,
                                                chunkCount: 1, classifier: classifier("T2w"), segmentation: nil),
            StructuredReportWriter.SeriesResult(mriType: "T1w", seriesInstanceUid: "1.2.3.5", probability: nil,
                                                chunkCount: 0, classifier: classifier("T1w"), segmentation: nil),
        ]
        let path = output.appendingPathComponent("sr.dcm").path
        let sr = try StructuredReportWriter.write(study: source.study, patientProbability: 0.43401699, noResultReason: nil,
                                                  series: results, segmentationModel: segmentationModel, to: path)
        XCTAssertEqual(try Peers.dciodvfyErrors(path), [])

        let read = try Peers.peer(["read-sr", path])
        XCTAssertEqual(read["sop_class"] as? String, "1.2.840.10008.5.1.4.1.1.88.33")
        XCTAssertEqual(read["study"] as? String, source.study.studyInstanceUid)
        XCTAssertEqual(read["sop"] as? String, sr.sopInstanceUid)
        XCTAssertEqual(read["evidence"] as? [String], [seg.sopInstanceUid])
        let content = try XCTUnwrap(read["content"] as? [[String: Any]])
        let text = content.first { $0["concept"] as? String == "Comment" }?["value"] as? String
        XCTAssertTrue(text?.contains("RESEARCH USE ONLY, NOT FOR DIAGNOSIS") == true)
        let patient = content.first { $0["type"] as? String == "NUM" }?["value"] as? Double
        XCTAssertEqual(try XCTUnwrap(patient), 0.43401699, accuracy: 1e-8)
        let series = content.filter { $0["concept"] as? String == "MRI series result" }
            .map { ($0["children"] as? [[String: Any]]) ?? [] }
        XCTAssertEqual(series.count, 3)
        for (result, children) in zip(results, series) {
            func value(_ concept: String) -> Any? { children.first { $0["concept"] as? String == concept }?["value"] }
            XCTAssertEqual(value("MRI type") as? String, result.mriType)
            XCTAssertEqual(value("Series Instance UID") as? String, result.seriesInstanceUid)
            XCTAssertEqual(value("Number of slice chunks") as? Double, Double(result.chunkCount))
            XCTAssertEqual(value("Algorithm Version") as? String, result.classifier.weightsSha256)
            if let probability = result.probability {
                XCTAssertEqual(try XCTUnwrap(value("MGMT promoter methylation probability") as? Double), probability, accuracy: 1e-8)
            } else {
                XCTAssertNil(value("MGMT promoter methylation probability"))
            }
            XCTAssertEqual(value("Tumour segmentation") as? String, result.segmentation?.sopInstanceUid)
        }
    }

    func testReportOfAPatientWithoutResultStatesTheReason() throws {
        let study = StudyAttributes(studyInstanceUid: "1.2.826.0.1.3680043.8.498.1")
        let path = output.appendingPathComponent("none.dcm").path
        _ = try StructuredReportWriter.write(study: study, patientProbability: nil,
                                             noResultReason: "no MRI type produced chunks", series: [],
                                             segmentationModel: segmentationModel, to: path)
        XCTAssertEqual(try Peers.dciodvfyErrors(path), [])
        let content = try XCTUnwrap(try Peers.peer(["read-sr", path])["content"] as? [[String: Any]])
        XCTAssertFalse(content.contains { $0["type"] as? String == "NUM" })
        XCTAssertEqual(content.first { $0["concept"] as? String == "Reason for no result" }?["value"] as? String,
                       "no MRI type produced chunks")
    }

    func testDerivedUIDsAreValidAndDeterministic() {
        let uid = DerivedUID.make("a", "b")
        XCTAssertEqual(uid, DerivedUID.make("a", "b"))
        XCTAssertNotEqual(uid, DerivedUID.make("ab", ""))
        XCTAssertTrue(uid.hasPrefix("2.25."))
        XCTAssertLessThanOrEqual(uid.count, 64)
        XCTAssertFalse(uid.dropFirst(5).hasPrefix("0"))
    }
}
