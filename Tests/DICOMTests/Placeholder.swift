import XCTest
import DICOM
