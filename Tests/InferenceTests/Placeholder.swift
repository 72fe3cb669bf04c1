import XCTest
import Inference
