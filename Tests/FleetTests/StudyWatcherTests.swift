import Fleet
import Foundation
import XCTest

final class StudyWatcherTests: XCTestCase {
    func testAStudyIsReadyOnceQuietAndReportedOnce() throws {
        let export = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: export) }
        let study = export.appendingPathComponent("00042/FLAIR")
        try FileManager.default.createDirectory(at: study, withIntermediateDirectories: true)
        try Data([1]).write(to: study.appendingPathComponent("Image-1.dcm"))
        try FileManager.default.createDirectory(at: export.appendingPathComponent(".hidden"), withIntermediateDirectories: true)
        let watcher = StudyWatcher(export: export, quietSeconds: 10)
        let start = Date()
        XCTAssertEqual(try watcher.poll(now: start), [], "first sight starts the quiet period")
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(5)), [])
        // A file arriving restarts the quiet period.
        try Data([2, 3]).write(to: study.appendingPathComponent("Image-2.dcm"))
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(11)), [])
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(20)), [])
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(21)).map(\.lastPathComponent), ["00042"])
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(40)), [], "each study is reported once")
    }
}
