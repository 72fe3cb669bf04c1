import XCTest
import ResultsStore
