import Broker
import Fleet
import Foundation
import ResultsStore
import XCTest

/// Study jobs are read only inside MGMT_EXPORTS and files only inside their study folder, judged by real paths
/// (symlinks and `..` resolved), through the ingest and reporter executables on the real servers.
final class ConfinedInputTests: XCTestCase {
    private var cluster: FleetCluster?
    private var work: URL?

    override func tearDown() {
        cluster?.stopAll()
        if let work { try? FileManager.default.removeItem(at: work) }
    }

    private static let flair = FleetCluster.repositoryRoot.appendingPathComponent("Tests/IngestionTests/Fixtures/study/00007/FLAIR")

    func testStudiesAndFilesOutsideTheirRootsAreNotRead() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-confine-\(UUID().uuidString)")
        self.work = work
        let export = work.appendingPathComponent("export")
        let outside = work.appendingPathComponent("outside")
        let manager = FileManager.default
        try manager.createDirectory(at: outside, withIntermediateDirectories: true)
        // A good FLAIR series whose slice000 is a symlink to the same file kept outside the study, plus a symlink
        // to /etc/shadow: neither may be opened.
        let series = export.appendingPathComponent("S/FLAIR")
        try manager.createDirectory(at: series, withIntermediateDirectories: true)
        let slices = try manager.contentsOfDirectory(atPath: Self.flair.path).sorted()
        for name in slices.dropFirst() {
            try manager.copyItem(at: Self.flair.appendingPathComponent(name), to: series.appendingPathComponent(name))
        }
        try manager.copyItem(at: Self.flair.appendingPathComponent(slices[0]), to: outside.appendingPathComponent(slices[0]))
        try manager.createSymbolicLink(at: series.appendingPathComponent(slices[0]),
                                       withDestinationURL: outside.appendingPathComponent(slices[0]))
        try manager.createSymbolicLink(at: series.appendingPathComponent("shadow"), withDestinationURL: URL(fileURLWithPath: "/etc/shadow"))
        try manager.createSymbolicLink(at: export.appendingPathComponent("linked"), withDestinationURL: URL(fileURLWithPath: "/etc"))

        // Everything under the temporary directory is an export root for the cluster; `work` is narrower.
        let cluster = try FleetCluster(extra: ["MGMT_EXPORTS": export.path])
        self.cluster = cluster
        let workers = try ["reporter", "ingest"].map { try cluster.start($0) }
        try waitUntil(timeout: 120) { workers.allSatisfy { cluster.log(of: $0).contains("consuming") } }
        let broker = try cluster.broker()
        defer { broker.close() }
        let refused = ["/etc", export.path + "/../../../etc", export.appendingPathComponent("linked").path, outside.path]
        for path in refused + [export.appendingPathComponent("S").path] {
            try broker.publish(OutgoingMessage(routingKey: cluster.queues.studies, body: MessageCodec.encode(StudyJob(studyPath: path))),
                               to: cluster.configuration.exchange)
        }

        let failures = try cluster.waitForRows(timeout: 120, { try $0.failures() }, until: { $0.count >= refused.count })
        for path in refused {
            let reasons = failures.filter { $0.jobId == StudyJob(studyPath: path).jobId }.map(\.reason)
            XCTAssertEqual(reasons, ["the study path is outside the export roots (MGMT_EXPORTS); not read"], path)
        }
        let logs = cluster.log(of: workers[0]) + cluster.log(of: workers[1])
        for listing in ["passwd", "hostname", "shadow:", "root:"] {
            XCTAssertFalse(failures.contains { $0.reason.contains(listing) }, "no directory content in failures: \(listing)")
            XCTAssertFalse(logs.contains(listing), "no directory content in the logs: \(listing)")
        }

        let study = try cluster.waitForRows(timeout: 120, { tables in
            try tables.connection.execute("""
                SELECT coalesce(st.warnings, '') AS warnings, se.slices_total FROM studies st
                JOIN series se USING (study_instance_uid)
                """).rows.map { (try $0.string("warnings"), try $0.int("slices_total")) }
        }, until: { $0.count == 1 })
        XCTAssertEqual(study[0].1, slices.count - 1, "the symlinked slice was not read")
        XCTAssertTrue(study[0].0.contains("outside_study: FLAIR/\(slices[0]) leads outside the study folder"), study[0].0)
        XCTAssertTrue(study[0].0.contains("outside_study: FLAIR/shadow leads outside the study folder"), study[0].0)
    }
}
