// The DICOM exchange's side of scripts/bench-dicom.sh.
//   dicom-exchange-benchmark listen PORT INCOMING   the Storage SCP (AE MGMT) until SIGTERM or SIGINT
//   dicom-exchange-benchmark derive SERIES_DIR OUT  writes a SEG (threshold masks) and an SR for one series,
//                                                   printing "seg_ms sr_ms frames" (wall time: the script runs
//                                                   it on a quiet machine)
import DICOM
import DICOMExchange
import Domain
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

func milliseconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else { fail("usage: dicom-exchange-benchmark listen PORT INCOMING | derive SERIES_DIR OUT") }
switch arguments[1] {
case "listen":
    guard let port = UInt16(arguments[2]) else { fail("bad port \(arguments[2])") }
    // Blocked before any thread starts (threads inherit the mask), then awaited here.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGTERM)
    sigaddset(&stopSignals, SIGINT)
    pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
    do {
        let scp = try StorageSCP(.init(aeTitle: "MGMT", port: port, incomingRoot: arguments[3]))
        FileHandle.standardOutput.write(Data("listening on \(port)\n".utf8))
        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        scp.stop()
        print("stored \(scp.counters.instancesStored)")
    } catch {
        fail("\(error)")
    }
case "derive":
    do {
        let directory = URL(fileURLWithPath: arguments[2])
        let paths = (try FileManager.default.contentsOfDirectory(atPath: directory.path)).map { directory.appendingPathComponent($0).path }
        let files = try paths.filter { DicomFile.isDicom(path: $0) }.map { try DicomFile(path: $0) }
            .sorted { ($0.header.instanceNumber ?? 0) < ($1.header.instanceNumber ?? 0) }
        guard let first = files.first?.header, let orientation = first.imageOrientationPatient,
              let spacing = first.pixelSpacing
        else { fail("no DICOM series with geometry in \(arguments[2])") }
        var masks: [UInt8] = []
        for file in files {
            let values = try file.storedValues()
            let threshold = (values.max() ?? 0) / 2
            masks += values.map { $0 > threshold ? 1 : 0 }
            masks += values.map { $0 > threshold * 3 / 2 ? 1 : 0 }
        }
        let source = SegmentationSource(
            study: first.study, seriesInstanceUid: first.seriesInstanceUid, frameOfReferenceUid: first.frameOfReferenceUid,
            imageOrientationPatient: orientation, pixelSpacing: spacing, sliceThickness: first.sliceThickness,
            rows: first.rows, columns: first.columns,
            slices: files.map { SourceSlice(sopClassUid: $0.header.sopClassUid, sopInstanceUid: $0.header.sopInstanceUid,
                                            imagePositionPatient: $0.header.imagePositionPatient ?? [0, 0, 0]) })
        let algorithm = DerivingAlgorithm(name: "benchmark", weightsSha256: String(repeating: "0", count: 64))
        var start = ContinuousClock.now
        let seg = try SegmentationWriter.write(source: source, masks: masks, algorithm: algorithm,
                                               to: arguments[3] + "/seg.dcm")
        let segMilliseconds = milliseconds(since: start)
        start = ContinuousClock.now
        _ = try StructuredReportWriter.write(
            study: first.study, patientProbability: 0.5, noResultReason: nil,
            series: [.init(mriType: "FLAIR", seriesInstanceUid: first.seriesInstanceUid, probability: 0.5, chunkCount: 1,
                           classifier: algorithm, segmentation: seg)],
            segmentationModel: algorithm, to: arguments[3] + "/sr.dcm")
        print(String(format: "%.1f %.1f %d", segMilliseconds, milliseconds(since: start), seg.frames))
    } catch {
        fail("\(error)")
    }
default:
    fail("unknown command \(arguments[1])")
}
