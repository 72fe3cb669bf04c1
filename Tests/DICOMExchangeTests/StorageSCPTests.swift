// The Storage SCP and SCU against peers no one here wrote: DCMTK's echoscu/storescu/storescp and pynetdicom.
import DICOM
import DICOMExchange
import Foundation
import XCTest

final class StorageSCPTests: XCTestCase {
    private var incoming: URL!
    private var port: UInt16 = 0

    override func setUpWithError() throws {
        incoming = try Peers.temporaryDirectory("incoming")
        port = Peers.freePort()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: incoming)
    }

    private func startSCP(allowed: [String] = [], hosts: [String] = [], onStored: @escaping @Sendable (StoredInstance) -> Void = { _ in })
        throws -> StorageSCP
    {
        try StorageSCP(.init(aeTitle: "MGMT", port: port, incomingRoot: incoming.path, allowedCallingAETitles: allowed,
                             allowedHosts: hosts, idleTimeoutSeconds: 10), onStored: onStored)
    }

    /// Files under the incoming root (temporary names included: none may be left).
    private func incomingFiles() -> [String] {
        (FileManager.default.enumerator(atPath: incoming.path)?.compactMap { $0 as? String } ?? [])
            .filter { !((try? FileManager.default.attributesOfItem(atPath: incoming.appendingPathComponent($0).path)[.type]
                        as? FileAttributeType) == .typeDirectory) }
            .sorted()
    }

    /// Each source file must be stored once at Study/Series/SOP.dcm with the same header and stored pixel values.
    private func assertStoredExactly(_ sources: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        var expected: [String] = []
        for source in sources {
            let original = try DicomFile(path: source)
            let h = original.header
            let relative = "\(h.studyInstanceUid)/\(h.seriesInstanceUid)/\(h.sopInstanceUid).dcm"
            expected.append(relative)
            let stored = try DicomFile(path: incoming.appendingPathComponent(relative).path)
            XCTAssertEqual(stored.header.transferSyntax, h.transferSyntax, relative, file: file, line: line)
            XCTAssertEqual(try stored.storedValues(), try original.storedValues(), relative, file: file, line: line)
        }
        XCTAssertEqual(incomingFiles(), Set(expected).sorted(), file: file, line: line)
    }

    func testDCMTKEchoAndStoreOfEveryTransferSyntaxInTheGeneratedStudy() throws {
        let study = try Peers.study(traps: true)
        let sources = Peers.dicomFiles(under: study)
        let syntaxes = Set(try sources.map { try DicomFile(path: $0).header.transferSyntax.uid })
        XCTAssertGreaterThanOrEqual(syntaxes.count, 7, "the trap study should carry seven transfer syntaxes")
        XCTAssertTrue(syntaxes.isSubset(of: Set(StorageSCP.storageTransferSyntaxes)))
        let scp = try startSCP()
        defer { scp.stop() }

        let echo = try Peers.run("/usr/bin/echoscu", ["-aet", "SCANNER", "-aec", "MGMT", "127.0.0.1", "\(port)"])
        XCTAssertEqual(echo.status, 0, echo.stderr)
        // One storescu run per transfer syntax, proposing that syntax first, so each goes over the wire as is.
        let options = ["1.2.840.10008.1.2.1": "-xe", "1.2.840.10008.1.2": "-xi", "1.2.840.10008.1.2.2": "-xb",
                       "1.2.840.10008.1.2.1.99": "-xd", "1.2.840.10008.1.2.5": "-xr", "1.2.840.10008.1.2.4.70": "-xs",
                       "1.2.840.10008.1.2.4.80": "-xt"]
        let bySyntax = Dictionary(grouping: sources) { (try? DicomFile(path: $0).header.transferSyntax.uid) ?? "" }
        for (syntax, files) in bySyntax.sorted(by: { $0.key < $1.key }) {
            let option = try XCTUnwrap(options[syntax], "no storescu option for \(syntax)")
            let store = try Peers.run("/usr/bin/storescu", ["-aet", "SCANNER", "-aec", "MGMT", option, "127.0.0.1",
                                                           "\(port)"] + files)
            XCTAssertEqual(store.status, 0, "\(syntax): \(store.stderr)")
        }
        try assertStoredExactly(sources)
        let counters = scp.counters
        XCTAssertEqual(counters.echoes, 1)
        XCTAssertEqual(counters.instancesStored, UInt64(sources.count))
        XCTAssertEqual(counters.associationsAccepted, UInt64(1 + bySyntax.count))
        XCTAssertEqual(counters.storesFailed, 0)
        XCTAssertGreaterThan(counters.bytesStored, 0)
    }

    func testPynetdicomOverTwoConcurrentAssociations() throws {
        let sources = Peers.dicomFiles(under: try Peers.study(traps: false))
        let scp = try startSCP()
        defer { scp.stop() }
        let result = try Peers.peer(["send-concurrent", "127.0.0.1", "\(port)", "MGMT"] + sources)
        let associations = try XCTUnwrap(result["associations"] as? [[String: Any]])
        XCTAssertEqual(associations.count, 2)
        for association in associations {
            XCTAssertEqual(association["established"] as? Bool, true)
            XCTAssertEqual((association["statuses"] as? [Int])?.allSatisfy { $0 == 0 }, true, "\(association)")
        }
        try assertStoredExactly(sources)
        XCTAssertEqual(scp.counters.associationsAccepted, 2)
    }

    func testUnsupportedSOPClassAndTransferSyntaxAreDeclinedAndTheListenerStaysUp() throws {
        let scp = try startSCP()
        defer { scp.stop() }
        let result = try Peers.peer(["propose-unsupported", "127.0.0.1", "\(port)", "MGMT"])
        XCTAssertEqual(result["established"] as? Bool, true)
        XCTAssertEqual(result["accepted"] as? [String], ["1.2.840.10008.1.1"], "only Verification is accepted")
        XCTAssertEqual(Set(result["rejected"] as? [String] ?? []), ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"])
        XCTAssertEqual(result["echo"] as? Int, 0)
        XCTAssertEqual(scp.counters.contextsDeclined, 2)
        // Still listening: a new association works.
        let echo = try Peers.run("/usr/bin/echoscu", ["-aec", "MGMT", "127.0.0.1", "\(port)"])
        XCTAssertEqual(echo.status, 0, echo.stderr)
        XCTAssertTrue(incomingFiles().isEmpty)
    }

    func testCallingAENotOnTheAllowListIsRejected() throws {
        let scp = try startSCP(allowed: ["SCANNER"])
        defer { scp.stop() }
        let intruder = try Peers.run("/usr/bin/echoscu", ["-aet", "INTRUDER", "-aec", "MGMT", "127.0.0.1", "\(port)"])
        XCTAssertNotEqual(intruder.status, 0)
        XCTAssertTrue((intruder.stdout + intruder.stderr).contains("Rejected"), intruder.stdout + intruder.stderr)
        let scanner = try Peers.run("/usr/bin/echoscu", ["-aet", "SCANNER", "-aec", "MGMT", "127.0.0.1", "\(port)"])
        XCTAssertEqual(scanner.status, 0, scanner.stderr)
        XCTAssertEqual(scp.counters.associationsRejected, 1)
        XCTAssertEqual(scp.counters.associationsAccepted, 1)
    }

    func testPeerHostNotOnTheAllowListIsRejected() throws {
        do {
            let scp = try startSCP(hosts: ["127.0.0.1"])
            defer { scp.stop() }
            let allowed = try Peers.run("/usr/bin/echoscu", ["-aec", "MGMT", "127.0.0.1", "\(port)"])
            XCTAssertEqual(allowed.status, 0, allowed.stderr)
        }
        let scp = try startSCP(hosts: ["127.0.0.2"])
        defer { scp.stop() }
        let other = try Peers.run("/usr/bin/echoscu", ["-aec", "MGMT", "127.0.0.1", "\(port)"])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertEqual(scp.counters.associationsRejected, 1)
    }

    func testStorescuKilledMidStudyThenRerunLeavesOneCompleteStudy() throws {
        let study = try Peers.study(traps: false)
        let sources = Peers.dicomFiles(under: study)
        // Each store takes a while, so the sender is surely in the middle of the study when it is killed.
        let scp = try startSCP(onStored: { _ in usleep(40_000) })
        defer { scp.stop() }
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/usr/bin/storescu")
        sender.arguments = ["-aec", "MGMT", "+sd", "+r", "127.0.0.1", "\(port)", study.path]
        sender.standardOutput = FileHandle.nullDevice
        sender.standardError = FileHandle.nullDevice
        try sender.run()
        let deadline = Date().addingTimeInterval(30)
        while scp.counters.instancesStored < 5 && Date() < deadline { usleep(5_000) }
        kill(sender.processIdentifier, SIGKILL)
        sender.waitUntilExit()
        let partial = scp.counters.instancesStored
        XCTAssertGreaterThanOrEqual(partial, 5)
        XCTAssertLessThan(Int(partial), sources.count, "the sender was killed before the end of the study")

        let rerun = try Peers.run("/usr/bin/storescu", ["-aec", "MGMT", "+sd", "+r", "127.0.0.1", "\(port)", study.path])
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        try assertStoredExactly(sources)  // no duplicate, no partial or temporary file
    }

    func testSCUSendsToDCMTKStorescpAndReportsAnUnreachablePeer() throws {
        let sources = Array(Peers.dicomFiles(under: try Peers.study(traps: true)).prefix(20))
        let output = try Peers.temporaryDirectory("pacs")
        defer { try? FileManager.default.removeItem(at: output) }
        let pacs = Process()
        pacs.executableURL = URL(fileURLWithPath: "/usr/bin/storescp")
        pacs.arguments = ["-aet", "PACS", "--output-directory", output.path, "\(port)"]
        pacs.standardOutput = FileHandle.nullDevice
        pacs.standardError = FileHandle.nullDevice
        try pacs.run()
        defer {
            pacs.terminate()
            pacs.waitUntilExit()
        }
        let scu = StorageSCU(callingAETitle: "MGMT", timeoutSeconds: 10)
        let peer = try XCTUnwrap(DicomPeer("PACS@127.0.0.1:\(port)"))
        var echoed = false
        for _ in 0..<50 where !echoed {  // storescp needs a moment to listen
            echoed = (try? scu.echo(peer)) != nil
            if !echoed { usleep(100_000) }
        }
        XCTAssertTrue(echoed)
        try scu.send(sources, to: peer)
        let received = Set(Peers.dicomFiles(under: output).compactMap { try? DicomFile(path: $0).header.sopInstanceUid })
        XCTAssertEqual(received, Set(try sources.map { try DicomFile(path: $0).header.sopInstanceUid }))

        let closed = DicomPeer(aeTitle: "PACS", host: "127.0.0.1", port: Peers.freePort())
        XCTAssertThrowsError(try scu.send(sources, to: closed)) { error in
            let failure = error as? DicomExchangeError
            XCTAssertEqual(failure?.isTransient, true, "\(error)")
            XCTAssertTrue("\(error)".contains("PACS@127.0.0.1:\(closed.port)"), "\(error)")
        }
    }

    func testDeliveryRetriesUntilThePeerComesUpAndGivesUpOnAPeerThatStaysDown() throws {
        let sources = Array(Peers.dicomFiles(under: try Peers.study(traps: false)).prefix(3))
        let scu = StorageSCU(callingAETitle: "MGMT", timeoutSeconds: 5)
        let peer = DicomPeer(aeTitle: "MGMT", host: "127.0.0.1", port: port)
        // Down for good: every attempt is made, then the last (transient) error with the count.
        let quick = StorageSCU.RetryPolicy(attempts: 3, initialDelay: 0.05, maximumDelay: 0.1)
        XCTAssertThrowsError(try scu.send(sources, to: peer, retrying: quick)) { error in
            let failure = error as? StorageSCU.DeliveryFailure
            XCTAssertEqual(failure?.attempts, 3)
            XCTAssertEqual(failure?.error.isTransient, true)
        }
        // Comes up while the sender backs off: delivered on a later attempt.
        let incomingRoot = incoming.path, port = self.port
        let starter = Thread {
            usleep(700_000)
            let scp = try? StorageSCP(.init(aeTitle: "MGMT", port: port, incomingRoot: incomingRoot))
            usleep(5_000_000)
            scp?.stop()
        }
        starter.start()
        let attempts = try scu.send(sources, to: peer, retrying: .init(attempts: 8, initialDelay: 0.2, maximumDelay: 0.4))
        XCTAssertGreaterThan(attempts, 1)
        XCTAssertEqual(incomingFiles().count, sources.count)
        // A refusal is final at once: a peer that rejects the calling AE is not retried.
        var pickyPort = Peers.freePort()
        while pickyPort == port { pickyPort = Peers.freePort() }
        let picky = try StorageSCP(.init(aeTitle: "PICKY", port: pickyPort, incomingRoot: incomingRoot,
                                         allowedCallingAETitles: ["SCANNER"]))
        defer { picky.stop() }
        let pickyPeer = DicomPeer(aeTitle: "PICKY", host: "127.0.0.1", port: pickyPort)
        XCTAssertThrowsError(try scu.send(sources, to: pickyPeer, retrying: quick)) { error in
            XCTAssertEqual((error as? StorageSCU.DeliveryFailure)?.attempts, 1, "\(error)")
        }
    }

    /// The listening sockets on `port` as /proc/net/tcp writes their local address (hex IPv4:port).
    private func listeningAddresses(port: UInt16) throws -> [String] {
        let suffix = String(format: ":%04X", port)
        let rows: [[Substring]] = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: " ") }
        return rows.filter { $0.count > 3 && $0[3] == "0A" && $0[1].hasSuffix(suffix) }.map { String($0[1]) }
    }

    /// The listener is on this host only unless given an address; "0.0.0.0" opens every interface, and a name that
    /// is not an IPv4 address is refused with the reason. The peers here reach it through 127.0.0.1 either way.
    func testListensOnLoopbackUnlessGivenAnAddress() throws {
        let scp = try startSCP()
        defer { scp.stop() }
        XCTAssertEqual(try listeningAddresses(port: port), [String(format: "0100007F:%04X", port)])
        XCTAssertEqual(try Peers.run("/usr/bin/echoscu", ["-aec", "MGMT", "127.0.0.1", "\(port)"]).status, 0)

        var everywherePort = Peers.freePort()
        while everywherePort == port { everywherePort = Peers.freePort() }
        let everywhere = try StorageSCP(.init(aeTitle: "MGMT", bindAddress: "0.0.0.0", port: everywherePort,
                                              incomingRoot: incoming.path))
        defer { everywhere.stop() }
        XCTAssertEqual(try listeningAddresses(port: everywherePort), [String(format: "00000000:%04X", everywherePort)])
        XCTAssertEqual(try Peers.run("/usr/bin/echoscu", ["-aec", "MGMT", "127.0.0.1", "\(everywherePort)"]).status, 0)

        XCTAssertThrowsError(try StorageSCP(.init(aeTitle: "MGMT", bindAddress: "localhost", port: Peers.freePort(),
                                                  incomingRoot: incoming.path))) { error in
            XCTAssertTrue("\(error)".contains("cannot listen on localhost:"), "\(error)")
            XCTAssertTrue("\(error)".contains("not an IPv4 address"), "\(error)")
        }
        XCTAssertThrowsError(try StorageSCP(.init(aeTitle: "MGMT", port: port, incomingRoot: incoming.path))) { error in
            XCTAssertTrue("\(error)".contains("cannot listen on 127.0.0.1:\(port)"), "a port in use: \(error)")
        }
    }

    func testPeerParsing() {
        XCTAssertEqual(DicomPeer("PACS@pacs.local:104"), DicomPeer(aeTitle: "PACS", host: "pacs.local", port: 104))
        XCTAssertNil(DicomPeer("PACS@host"))
        XCTAssertNil(DicomPeer("@host:104"))
        XCTAssertNil(DicomPeer("PACS@host:0"))
        XCTAssertNil(DicomPeer("AN_AE_TITLE_TOO_LONG@host:104"))
    }
}
