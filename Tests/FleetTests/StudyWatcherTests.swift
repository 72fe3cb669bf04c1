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

final class StudyWatcherReportsAgainTests: XCTestCase {
    /// Instances that arrive after a study was reported (a late C-STORE) make it ready again once quiet.
    func testAStudyThatChangesAfterItWasReportedIsReportedAgainOnceQuiet() throws {
        let export = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: export) }
        let series = export.appendingPathComponent("1.2.3/1.2.3.4")
        try FileManager.default.createDirectory(at: series, withIntermediateDirectories: true)
        try Data([1]).write(to: series.appendingPathComponent("1.2.3.4.1.dcm"))
        let watcher = StudyWatcher(export: export, quietSeconds: 2)
        let start = Date()
        XCTAssertEqual(try watcher.poll(now: start), [])
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(3)).map(\.lastPathComponent), ["1.2.3"])
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(6)), [], "unchanged: not again")
        try Data([2]).write(to: series.appendingPathComponent("1.2.3.4.2.dcm"))
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(7)), [], "the late instance starts a quiet period")
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(10)).map(\.lastPathComponent), ["1.2.3"])
        // A failed enqueue: forgotten, so reported again once quiet.
        watcher.forget(export.appendingPathComponent("1.2.3").standardizedFileURL)
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(11)), [])
        XCTAssertEqual(try watcher.poll(now: start.addingTimeInterval(14)).map(\.lastPathComponent), ["1.2.3"])
    }
}
