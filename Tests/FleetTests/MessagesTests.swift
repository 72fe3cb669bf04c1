import Domain
import Fleet
import Foundation
import XCTest

final class MessagesTests: XCTestCase {
    private let series = SeriesIdentity(
        patientId: "00042", studyInstanceUid: "1.2.3", seriesInstanceUid: "1.2.3.4", mriType: "FLAIR")

    func testRoundTripKeepsEveryField() throws {
        let job = ClassifyJob(
            series: series, inputs: ["masks.npy": ArtifactRef(key: "segment/abc/masks.npy", sha256: "ff")],
            segmentationWeightsSha256: "aa")
        let decoded = try MessageCodec.decode(ClassifyJob.self, from: MessageCodec.encode(job))
        XCTAssertEqual(decoded, job)
        let json = String(decoding: MessageCodec.encode(job), as: UTF8.self)
        XCTAssertTrue(json.contains("\"segmentation_weights_sha256\":\"aa\""), json)
        XCTAssertTrue(json.contains("\"schema\":1"), json)
        XCTAssertTrue(json.contains("\"kind\":\"classify\""), json)
    }

    /// The 3D model's job and result: round trips, the wire names, and the 2D `classified` of before (no `model`)
    /// still decoding as the 2D model's; an ingested series without `models` expects the 2D model only.
    func testVolumeJobAndVolumeResultRoundTrip() throws {
        let job = VolumeClassifyJob(series: series, inputs: ["volume.npy": ArtifactRef(key: "ingest/x/volume.npy", sha256: "ff")])
        XCTAssertEqual(try MessageCodec.decode(VolumeClassifyJob.self, from: MessageCodec.encode(job)), job)
        // printf 'mgmt-job/1\nclassify3d\n1.2.3.4' | sha256sum
        XCTAssertEqual(job.jobId, "4db1911817a6aebc7a3230036bd701a43f116516567f3cf45a982d8869a61347")
        let event = StatusEvent(jobId: job.jobId, stage: "classify3d",
                                .volumeClassified(series, VolumeResult(weightsSha256: "w3", probability: 0.25, slices: 40)))
        let body = MessageCodec.encode(event)
        XCTAssertEqual(try MessageCodec.decode(StatusEvent.self, from: body), event)
        let json = String(decoding: body, as: UTF8.self)
        XCTAssertTrue(json.contains(#""model":"resnet3d""#) && json.contains(#""status":"classified""#)
                      && json.contains(#""volume_classification":{"probability":0.25,"slices":40,"weights_sha256":"w3"}"#), json)
        let outOfRange = StatusEvent(jobId: "j", stage: "classify3d",
                                     .volumeClassified(series, VolumeResult(weightsSha256: "w3", probability: 1.5, slices: 4)))
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: MessageCodec.encode(outOfRange)))
        let summary = try JSONDecoder().decode(SeriesSummary.self, from: Data(
            #"{"seriesInstanceUid":"1","mriType":"FLAIR","slicesTotal":3,"slicesKept":2}"#.utf8))
        XCTAssertEqual(summary.expectedModels, [.nfnetLSTM])
    }

    func testJobIdsAreDeterministicPerSeriesStageAndWeights() {
        let a = ClassifyJob(series: series, inputs: [:], segmentationWeightsSha256: "w1")
        let b = ClassifyJob(series: series, inputs: ["x": ArtifactRef(key: "k", sha256: "s")], segmentationWeightsSha256: "w1")
        let c = ClassifyJob(series: series, inputs: [:], segmentationWeightsSha256: "w2")
        XCTAssertEqual(a.jobId, b.jobId)
        XCTAssertNotEqual(a.jobId, c.jobId)
        XCTAssertNotEqual(a.jobId, SegmentJob(series: series, inputs: [:]).jobId)
        XCTAssertEqual(a.jobId.count, 64)
        // The derivation is part of the contract between versions, so the digests are pinned as literals,
        // computed outside Swift: sha256 of "mgmt-job/1", the stage, the subject and the weights joined by "\n",
        // e.g. `printf 'mgmt-job/1\nsegment\n1.2.3.4' | sha256sum`.
        XCTAssertEqual(SegmentJob(series: series, inputs: [:]).jobId,
                       "e8998f8e12674c6b039873f4f67cb2e76729fc52ddb718d7bc7cb9066cc2b7c7")
        // printf 'mgmt-job/1\nclassify\n1.2.3.4\nw1' | sha256sum
        XCTAssertEqual(a.jobId, "bd44ca6c16c529b6c8ba46ae4d3561b1a88f60f946e58b647bfc97054788e088")
        // printf 'mgmt-job/1\ningest\n/export/00042' | sha256sum
        XCTAssertEqual(StudyJob(studyPath: "/export/00042").jobId,
                       "1ccaa11a1e8be87da856528bcdc442d57998f31095af78f6154c3c0bb9100b71")
    }

    func testDeliverJobAndDeliveryEventsRoundTripAndAreValidated() throws {
        let series = DeliverableSeries(
            seriesInstanceUid: "1.2.3.4", mriType: "FLAIR",
            inputs: ["series.json": ArtifactRef(key: "ingest/a/series.json", sha256: "aa")],
            segmentationWeightsSha256: "seg", classifierWeightsSha256: "cls", probability: 0.25, chunkCount: 2)
        let job = DeliverJob(patientId: "00042", studyInstanceUid: "1.2.3", patientProbability: 0.25, noResultReason: nil,
                             series: [series])
        XCTAssertEqual(try MessageCodec.decode(DeliverJob.self, from: MessageCodec.encode(job)), job)
        XCTAssertEqual(job.jobId, JobID.derive(stage: "deliver", subject: "1.2.3", weights: ["cls", "seg"]),
                       "the same result gives the same job id")
        var outside = job
        outside.series[0].probability = 1.5
        XCTAssertThrowsError(try MessageCodec.decode(DeliverJob.self, from: MessageCodec.encode(outside))) {
            XCTAssertEqual($0 as? MessageError, .invalidField("series[0].probability", "1.5 outside [0, 1]"))
        }

        let delivery = DicomDelivery(
            patientId: "00042", studyInstanceUid: "1.2.3",
            objects: [DicomDelivery.Object(kind: .segmentation, seriesInstanceUid: "2.25.1", sopInstanceUid: "2.25.2",
                                           sourceSeriesInstanceUid: "1.2.3.4", artifact: ArtifactRef(key: "dicom/x.dcm", sha256: "cc"))],
            destination: "PACS@127.0.0.1:104", attempts: 2, warnings: ["series 1.2.3.5 (T2w): no SEG: multi-frame"])
        for outcome: StatusEvent.Outcome in [.delivered(delivery), .deliveryFailed(delivery, error: "C-STORE: refused")] {
            let event = StatusEvent(jobId: job.jobId, stage: "deliver", outcome)
            let decoded = try MessageCodec.decode(StatusEvent.self, from: MessageCodec.encode(event))
            XCTAssertEqual(decoded, event)
            XCTAssertEqual(decoded.studyInstanceUid, "1.2.3")
            XCTAssertEqual(decoded.patientId, "00042")
        }
        let unknownKind = String(decoding: MessageCodec.encode(StatusEvent(jobId: "j", stage: "deliver", .delivered(delivery))),
                                 as: UTF8.self).replacingOccurrences(of: #""kind":"SEG""#, with: #""kind":"CT""#)
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: Data(unknownKind.utf8)), "an unknown object kind")
        let noReason = StatusEvent(jobId: "j", stage: "deliver", .deliveryFailed(delivery, error: ""))
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: MessageCodec.encode(noReason))) {
            XCTAssertEqual($0 as? MessageError, .missingField("error"))
        }
    }

    func testUnknownSchemaIsRejected() {
        let body = Data(#"{"schema":2,"kind":"study","job_id":"x","study_path":"/a","enqueued_at":"t"}"#.utf8)
        XCTAssertThrowsError(try MessageCodec.decode(StudyJob.self, from: body)) { error in
            XCTAssertEqual(error as? MessageError, .unknownSchema(2))
        }
    }

    func testMissingFieldIsNamed() {
        let body = Data(#"{"schema":1,"kind":"study","job_id":"x","enqueued_at":"t"}"#.utf8)
        XCTAssertThrowsError(try MessageCodec.decode(StudyJob.self, from: body)) { error in
            XCTAssertEqual(error as? MessageError, .missingField("study_path"))
            XCTAssertEqual("\(error)", "message field 'study_path' is missing")
        }
        let nested = Data(#"{"schema":1,"kind":"segment","job_id":"x","inputs":{},"series":{"patient_id":"1","study_instance_uid":"2","mri_type":"T1w"}}"#.utf8)
        XCTAssertThrowsError(try MessageCodec.decode(SegmentJob.self, from: nested)) { error in
            XCTAssertEqual(error as? MessageError, .missingField("series.series_instance_uid"))
        }
    }

    func testWrongKindAndGarbageAreRejected() {
        let study = MessageCodec.encode(StudyJob(studyPath: "/a"))
        XCTAssertThrowsError(try MessageCodec.decode(SegmentJob.self, from: study)) { error in
            XCTAssertEqual(error as? MessageError, .wrongKind(expected: "segment", found: "study"))
        }
        XCTAssertThrowsError(try MessageCodec.decode(StudyJob.self, from: Data("not json".utf8))) { error in
            guard case .notJSON = error as? MessageError else { return XCTFail("\(error)") }
        }
    }

    func testStatusEventsRequireTheirStatusFields() throws {
        let failed = StatusEvent(jobId: "j", stage: "segment", .failed(.series(series), error: ""))
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: MessageCodec.encode(failed))) { error in
            XCTAssertEqual(error as? MessageError, .missingField("error"))
        }
        let classified = StatusEvent(jobId: "j", stage: "classify", .classified(series, SeriesResult(
            weightsSha256: "c", segmentationWeightsSha256: "s", slicesSelected: 40,
            chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 0.25),
                     ChunkResult(index: 1, firstInstance: 5, probability: 0.75)],
            noChunksReason: nil)))
        let decoded = try MessageCodec.decode(StatusEvent.self, from: MessageCodec.encode(classified))
        XCTAssertEqual(decoded, classified)
        XCTAssertEqual(decoded.patientId, "00042")
        let badChunk = StatusEvent(jobId: "j", stage: "classify", .classified(series, SeriesResult(
            weightsSha256: "c", segmentationWeightsSha256: "s", slicesSelected: 40,
            chunks: [ChunkResult(index: 0, firstInstance: 0, probability: 1.5)], noChunksReason: nil)))
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: MessageCodec.encode(badChunk))) { error in
            XCTAssertEqual(error as? MessageError, .invalidField("classification.chunks", "probability 1.5 outside [0, 1]"))
        }
        let ingestedWithoutSeries = Data(#"""
            {"schema":1,"kind":"status","job_id":"j","stage":"ingest","status":"ingested","occurred_at":"t",
             "source":"/export/1","patient_id":"1","study_instance_uid":"1.2"}
            """#.utf8)
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: ingestedWithoutSeries)) { error in
            XCTAssertEqual(error as? MessageError, .missingField("study_series"))
        }
        let segmentedWithoutWeights = Data(#"""
            {"schema":1,"kind":"status","job_id":"j","stage":"segment","status":"segmented","occurred_at":"t",
             "series":{"patient_id":"1","study_instance_uid":"1.2","series_instance_uid":"1.2.3","mri_type":"T2w"}}
            """#.utf8)
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: segmentedWithoutWeights)) { error in
            XCTAssertEqual(error as? MessageError, .missingField("weights_sha256"))
        }
        let unknownStatus = Data(#"{"schema":1,"kind":"status","job_id":"j","stage":"x","status":"done","occurred_at":"t"}"#.utf8)
        XCTAssertThrowsError(try MessageCodec.decode(StatusEvent.self, from: unknownStatus)) { error in
            guard case .invalidField("status", _) = error as? MessageError else { return XCTFail("\(error)") }
        }
    }

    /// The enum keeps schema 1's flat wire shape: bodies as the earlier struct wrote them decode to the cases,
    /// and the cases encode back to the same bytes (JSONEncoder escapes "/" as "\/").
    func testStatusEventWireShapeIsSchemaOne() throws {
        let bodies: [(String, StatusEvent.Outcome)] = [
            (#"{"job_id":"a","kind":"status","occurred_at":"t","patient_id":"00042","schema":1,"source":"\/export\/00042","stage":"ingest","status":"ingested","study_instance_uid":"1.2.3","study_series":[{"mri_type":"FLAIR","series_instance_uid":"1.2.3.4","slices_kept":18,"slices_total":20}],"warnings":["w"]}"#,
             .ingested(.init(source: "/export/00042", patientId: "00042", studyInstanceUid: "1.2.3",
                             series: [SeriesSummary(seriesInstanceUid: "1.2.3.4", mriType: "FLAIR", slicesTotal: 20, slicesKept: 18)],
                             warnings: ["w"]))),
            (#"{"job_id":"a","kind":"status","occurred_at":"t","patient_id":"00042","schema":1,"series":{"mri_type":"FLAIR","patient_id":"00042","series_instance_uid":"1.2.3.4","study_instance_uid":"1.2.3"},"stage":"segment","status":"segmented","study_instance_uid":"1.2.3","weights_sha256":"w"}"#,
             .segmented(series, weightsSha256: "w")),
            (#"{"classification":{"chunks":[],"no_chunks_reason":"skipped","segmentation_weights_sha256":"s","slices_selected":0,"weights_sha256":""},"job_id":"a","kind":"status","occurred_at":"t","patient_id":"00042","schema":1,"series":{"mri_type":"FLAIR","patient_id":"00042","series_instance_uid":"1.2.3.4","study_instance_uid":"1.2.3"},"stage":"classify","status":"classified","study_instance_uid":"1.2.3","weights_sha256":""}"#,
             .classified(series, SeriesResult(weightsSha256: "", segmentationWeightsSha256: "s", slicesSelected: 0,
                                              chunks: [], noChunksReason: "skipped"))),
            (#"{"error":"no DICOM","job_id":"a","kind":"status","occurred_at":"t","schema":1,"source":"\/export\/9","stage":"ingest","status":"failed"}"#,
             .failed(.studyFolder("/export/9"), error: "no DICOM")),
            (#"{"error":"bad","job_id":"a","kind":"status","occurred_at":"t","patient_id":"00042","schema":1,"series":{"mri_type":"FLAIR","patient_id":"00042","series_instance_uid":"1.2.3.4","study_instance_uid":"1.2.3"},"stage":"segment","status":"failed","study_instance_uid":"1.2.3"}"#,
             .failed(.series(series), error: "bad")),
        ]
        for (body, outcome) in bodies {
            let event = try MessageCodec.decode(StatusEvent.self, from: Data(body.utf8))
            XCTAssertEqual(event.outcome, outcome, body)
            XCTAssertEqual(String(decoding: MessageCodec.encode(event), as: UTF8.self), body)
        }
    }

    func testInputNamesMustBePlainFileNames() {
        var job = SegmentJob(series: series, inputs: ["../../etc/cron.d/x": ArtifactRef(key: "k", sha256: "s")])
        XCTAssertThrowsError(try MessageCodec.decode(SegmentJob.self, from: MessageCodec.encode(job))) { error in
            XCTAssertEqual(error as? MessageError, .invalidField("inputs", "'../../etc/cron.d/x' is not a plain file name"))
        }
        job.inputs = ["masks.npy": ArtifactRef(key: "k", sha256: "s")]
        XCTAssertNoThrow(try MessageCodec.decode(SegmentJob.self, from: MessageCodec.encode(job)))
    }

    func testEveryFieldHasASizeLimit() throws {
        func rejection<M: FleetMessage>(_ type: M.Type, _ message: M) -> MessageError? {
            do {
                _ = try MessageCodec.decode(type, from: MessageCodec.encode(message))
                return nil
            } catch {
                return error as? MessageError
            }
        }
        let huge = String(repeating: "a", count: 30 << 20)
        XCTAssertEqual(rejection(StudyJob.self, StudyJob(studyPath: "/export/" + huge)),
                       .invalidField("study_path", "\(huge.utf8.count + 8) bytes, the limit is 4096"))
        XCTAssertNil(rejection(StudyJob.self, StudyJob(studyPath: "/export/" + String(repeating: "a", count: 4000))))

        var longUID = series
        longUID.seriesInstanceUid = String(repeating: "1", count: 65)
        let ref = ArtifactRef(key: "k", sha256: String(repeating: "0", count: 64))
        XCTAssertEqual(rejection(SegmentJob.self, SegmentJob(series: longUID, inputs: ["series.json": ref])),
                       .invalidField("series.series_instance_uid", "65 bytes, the limit is 64"))
        let longName = String(repeating: "n", count: 256)
        XCTAssertEqual(rejection(SegmentJob.self, SegmentJob(series: series, inputs: [longName: ref])),
                       .invalidField("inputs", "a name of 256 bytes, the limit is 255"))
        var longId = StudyJob(studyPath: "/a")
        longId.jobId = String(repeating: "f", count: 129)
        XCTAssertEqual(rejection(StudyJob.self, longId), .invalidField("job_id", "129 bytes, the limit is 128"))

        let longError = String(repeating: "e", count: 65537)
        XCTAssertEqual(rejection(StatusEvent.self, StatusEvent(jobId: "j", stage: "segment", .failed(.series(series), error: longError))),
                       .invalidField("error", "65537 bytes, the limit is 65536"))
        XCTAssertEqual(rejection(StatusEvent.self, StatusEvent(jobId: "j", stage: "ingest", .ingested(.init(
                                     source: "/export/s", patientId: "p", studyInstanceUid: "1.2", series: [],
                                     warnings: ["ok", huge])))),
                       .invalidField("warnings[1]", "\(huge.utf8.count) bytes, the limit is 4096"))
    }
}
