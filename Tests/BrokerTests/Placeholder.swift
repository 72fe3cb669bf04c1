import XCTest
import Broker
