import Foundation
import Synchronization
import XCTest
@testable import Evy
import EvyTestSupport

struct Boom: Error, Equatable { var code = 1 }
