import DICOMExchange
import Fleet
import FleetDeliver
import XCTest

/// The `ingest listen` variables of the one configuration reader.
final class DicomListenConfigurationTests: XCTestCase {
    func testDefaultsListsAndErrors() throws {
        let defaults = try FleetConfiguration(environment: ["MGMT_STORE": "/data/store"])
        XCTAssertEqual(defaults.dicomAETitle, "MGMTFLEET")
        XCTAssertEqual(defaults.dicomBindAddress, "127.0.0.1", "this host only unless told")
        XCTAssertEqual(defaults.dicomPort, 11112)
        XCTAssertEqual(defaults.dicomAllowedAETitles, [])
        XCTAssertEqual(defaults.dicomAllowedHosts, [])
        XCTAssertEqual(defaults.dicomIncoming, "/data/store/incoming")

        let set = try FleetConfiguration(environment: [
            "MGMT_DICOM_AE": "FLEET1", "MGMT_DICOM_PORT": "104", "MGMT_DICOM_ALLOWED_AES": " PACS1, ROUTER ,",
            "MGMT_DICOM_ALLOWED_HOSTS": "127.0.0.1", "MGMT_DICOM_INCOMING": "/in", "MGMT_DICOM_BIND": "0.0.0.0"])
        XCTAssertEqual(set.dicomBindAddress, "0.0.0.0")
        XCTAssertEqual(set.dicomAETitle, "FLEET1")
        XCTAssertEqual(set.dicomPort, 104)
        XCTAssertEqual(set.dicomAllowedAETitles, ["PACS1", "ROUTER"])
        XCTAssertEqual(set.dicomAllowedHosts, ["127.0.0.1"])
        XCTAssertEqual(set.dicomIncoming, "/in")

        XCTAssertThrowsError(try FleetConfiguration(environment: ["MGMT_DICOM_AE": "SEVENTEEN_CHARS_X"]))
        XCTAssertThrowsError(try FleetConfiguration(environment: ["MGMT_DICOM_PORT": "70000"]))
        XCTAssertThrowsError(try FleetConfiguration(environment: ["MGMT_DICOM_PORT": "0"]))
    }
}

/// The `ingest deliver` variables: the destination and how hard a delivery tries.
final class DicomDeliverConfigurationTests: XCTestCase {
    func testDestinationAndRetrySettings() throws {
        let defaults = try FleetConfiguration(environment: [:])
        XCTAssertNil(try DicomDestination.configured(defaults), "no destination: objects are only stored")
        XCTAssertEqual(defaults.dicomSendAttempts, 5)
        XCTAssertEqual(defaults.dicomSendBackoffSeconds, 2)
        XCTAssertEqual(defaults.dicomSendBackoffMaximumSeconds, 60)

        let set = try FleetConfiguration(environment: [
            "MGMT_DICOM_DESTINATION": "PACS@127.0.0.1:104", "MGMT_DICOM_AE": "FLEET1", "MGMT_DICOM_SEND_ATTEMPTS": "3",
            "MGMT_DICOM_SEND_BACKOFF": "0.5", "MGMT_DICOM_SEND_BACKOFF_MAX": "4"])
        let destination = try XCTUnwrap(try DicomDestination.configured(set))
        XCTAssertEqual(destination.peer, DicomPeer(aeTitle: "PACS", host: "127.0.0.1", port: 104))
        XCTAssertEqual(destination.scu.callingAETitle, "FLEET1")
        XCTAssertEqual(destination.retry.attempts, 3)
        XCTAssertEqual(destination.retry.initialDelay, 0.5)
        XCTAssertEqual(destination.retry.maximumDelay, 4)

        for bad in ["PACS", "PACS@127.0.0.1", "@127.0.0.1:104", "PACS@127.0.0.1:0", "SEVENTEEN_CHARS_X@127.0.0.1:104"] {
            XCTAssertThrowsError(try DicomDestination.configured(try FleetConfiguration(environment: ["MGMT_DICOM_DESTINATION": bad]))) {
                XCTAssertTrue("\($0)".hasPrefix("configuration: MGMT_DICOM_DESTINATION=\(bad) is not AE@host:port"), "\($0)")
            }
        }
        XCTAssertThrowsError(try FleetConfiguration(environment: ["MGMT_DICOM_SEND_ATTEMPTS": "0"]))
    }
}
