import XCTest

/// A test case that runs against the three-node cluster, started fresh for its class and stopped
/// after it.
class ClusterTestCase: XCTestCase {
  nonisolated(unsafe) static var runningCluster: NATSCluster?

  override class func setUp() {
    runningCluster = try! NATSCluster()
  }

  override class func tearDown() {
    runningCluster = nil
  }

  var cluster: NATSCluster { Self.runningCluster! }
}
