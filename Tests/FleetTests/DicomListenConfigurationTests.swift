import Fleet
import XCTest

/// The `ingest listen` variables of the one configuration reader.
final class DicomListenConfigurationTests: XCTestCase {
    func testDefaultsListsAndErrors() throws {
        let defaults = try FleetConfiguration(environment: ["MGMT_STORE": "/data/store"])
        XCTAssertEqual(defaults.dicomAETitle, "MGMTFLEET")
        XCTAssertEqual(defaults.dicomPort, 11112)
        XCTAssertEqual(defaults.dicomAllowedAETitles, [])
        XCTAssertEqual(defaults.dicomAllowedHosts, [])
        XCTAssertEqual(defaults.dicomIncoming, "/data/store/incoming")

        let set = try FleetConfiguration(environment: [
            "MGMT_DICOM_AE": "FLEET1", "MGMT_DICOM_PORT": "104", "MGMT_DICOM_ALLOWED_AES": " PACS1, ROUTER ,",
            "MGMT_DICOM_ALLOWED_HOSTS": "127.0.0.1", "MGMT_DICOM_INCOMING": "/in"])
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
