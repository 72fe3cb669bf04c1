import Fleet
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `ingest listen` against DCMTK's own SCUs (Debian package dcmtk), in the same fleet as the folder path.
extension FleetEndToEndTests {
    func testStudySentByStorescuToIngestListenEqualsTheFolderPath() throws {
        let export = try Self.fixtures.export("single", patients: ["00500"])
        let study = export.appendingPathComponent("00500")
        let cluster = try startFleet()
        let dicomPort = freeLocalPort(), metricsPort = freeLocalPort()
        let incoming = cluster.root.appendingPathComponent("incoming")
        try cluster.start("ingest", name: "listen", arguments: ["listen"], extra: [
            "MGMT_DICOM_PORT": "\(dicomPort)", "MGMT_DICOM_INCOMING": incoming.path, "MGMT_WATCH_QUIET": "2",
            "MGMT_DICOM_ALLOWED_AES": "STORESCU,ECHOSCU", "MGMT_METRICS_PORT": "\(metricsPort)"])
        let echo = { (callingAE: String) in
            try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/echoscu"),
                                   ["-aet", callingAE, "-aec", "MGMTFLEET", "127.0.0.1", "\(dicomPort)"])
        }
        let deadline = Date().addingTimeInterval(30)
        while try echo("ECHOSCU").status != 0 {
            guard Date() < deadline, cluster.isRunning("listen") else {
                return XCTFail("the listener did not answer C-ECHO: \(cluster.log(of: "listen"))")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertNotEqual(try echo("STRANGER").status, 0, "an AE not on the allow-list is rejected")

        let files = try FileManager.default.subpathsOfDirectory(atPath: study.path).filter { $0.hasSuffix(".dcm") }
        XCTAssertGreaterThan(files.count, 0)
        let send = try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/storescu"),
                                          ["-aet", "STORESCU", "-aec", "MGMTFLEET", "+sd", "+r", "127.0.0.1", "\(dicomPort)", study.path])
        XCTAssertEqual(send.status, 0, send.output)

        let tables = try cluster.tables()
        _ = try cluster.waitForRows(timeout: 240, doneStudies, until: { $0 == 1 })
        try assertRowsMatchOffline(tables, patient: "00500", study: study)
        XCTAssertEqual(try tables.failures(), [])
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: incoming.path).filter { $0.hasSuffix(".dcm") }.count,
                       files.count, "every instance on disk under the incoming root")

        let metrics = try httpGet(port: metricsPort, path: "/metrics").body
        XCTAssertTrue(metrics.contains("mgmt_dicom_instances_total \(files.count)"), metrics)
        XCTAssertTrue(metrics.contains(#"mgmt_dicom_associations_total{outcome="rejected"} 1"#), metrics)
        XCTAssertEqual(try httpGet(port: metricsPort, path: "/healthz").status, 200)
        XCTAssertEqual(cluster.terminate("listen"), 0, "SIGTERM stops the listener cleanly")
    }
}

/// A port on 127.0.0.1 in 11300-11399 (the range given to the DICOM network tests) that binds now.
func freeLocalPort() -> Int {
    for _ in 0..<200 {
        let port = UInt16.random(in: 11300...11399)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound == 0 { return Int(port) }
    }
    return 11399
}
