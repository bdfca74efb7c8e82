// Runs Evy's conformance scenarios in green-the-world mode: Swift's main and default executors are
// the hub. The test suite runs this binary and checks its report; run it alone with
// `swift run evy-selftest`. Exit status: the number of failed scenarios (0: all passed).
@_spi(GreenWorld) import Evy
import EvyConformance
import Foundation

typealias DefaultExecutorFactory = GreenWorld

@main struct SelfTest {
    static func main() async {
        guard GreenWorld.isActive else {
            print("FAIL  green-the-world mode did not take effect")
            exit(100)
        }
        let failed = await runScenarios(greenWorld: true)
        exit(Int32(min(failed, 99)))
    }
}
