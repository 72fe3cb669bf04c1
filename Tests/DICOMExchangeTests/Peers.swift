// Helpers for tests against real DICOM peers: DCMTK's command-line tools, pynetdicom/highdicom, dciodvfy.
import DICOM
import Foundation
import XCTest

enum Peers {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a program to completion; stdout and stderr apart (stderr through a file, so neither pipe fills).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("peer-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        defer { try? FileManager.default.removeItem(at: errURL) }
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try err.close()
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return (process.terminationStatus, stdout, stderr)
    }

    /// The Python with pynetdicom and highdicom, built by the project script on first use.
    static let python: String = {
        let result = try? run("/bin/bash", [repositoryRoot.appendingPathComponent("scripts/dicom-python.sh").path])
        return result?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }()

    /// Runs a tools/dicom/peer.py command and decodes its JSON output.
    static func peer(_ arguments: [String]) throws -> [String: Any] {
        guard !python.isEmpty else { throw Failure(description: "scripts/dicom-python.sh did not build the DICOM Python") }
        let script = repositoryRoot.appendingPathComponent("tools/dicom/peer.py").path
        let result = try run(python, [script] + arguments)
        guard result.status == 0,
              let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        else {
            throw Failure(description: "peer.py \(arguments.first ?? "") failed (\(result.status)): \(result.stderr)")
        }
        return json
    }

    /// Lines of dciodvfy's report that start with "Error".
    static func dciodvfyErrors(_ path: String) throws -> [String] {
        let result = try run("/usr/bin/dciodvfy", [path])
        guard !(result.stdout + result.stderr).isEmpty else { throw Failure(description: "dciodvfy printed nothing") }
        return (result.stdout + result.stderr).split(separator: "\n").map(String.init).filter { $0.hasPrefix("Error") }
    }

    /// A free TCP port on 127.0.0.1 in 11200-11299 (the range given to these tests).
    static func freePort() -> UInt16 {
        for _ in 0..<200 {
            let port = UInt16.random(in: 11200...11299)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
        return 11299
    }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dicom-exchange-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Every DICOM file under `directory` (found by content, as ingest does), sorted by path.
    static func dicomFiles(under directory: URL) -> [String] {
        let paths = FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String } ?? []
        return paths.map { directory.appendingPathComponent($0).path }
            .filter { DicomFile.isDicom(path: $0) }
            .sorted()
    }

    /// A generated study (tools/testdata/make_study.py), made once per options and reused.
    static func study(traps: Bool, slices: Int = 12, size: Int = 48, series: String = "FLAIR,T1w,T1wCE,T2w") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("dicom-exchange-study-\(traps ? "traps" : "plain")-\(slices)-\(size)-\(series.replacingOccurrences(of: ",", with: "_"))")
        let done = url.appendingPathExtension("done")  // beside the study, not in it: senders scan the folder
        if FileManager.default.fileExists(atPath: done.path) { return url }
        try? FileManager.default.removeItem(at: url)
        var arguments = [repositoryRoot.appendingPathComponent("tools/testdata/make_study.py").path, "--out", url.path,
                         "--slices", "\(slices)", "--size", "\(size)", "--series", series]
        if traps { arguments.append("--traps") }
        let result = try run("/usr/bin/python3", arguments)
        guard result.status == 0 else { throw Failure(description: "make_study.py failed: \(result.stderr)") }
        _ = FileManager.default.createFile(atPath: done.path, contents: nil)
        return url
    }
}
