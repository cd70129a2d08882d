import Foundation
import Snapshot
import SnapshotKV
import SnapshotReplication
import SnapshotTestSupport
import SnapshotVerification
import XCTest

/// Failures while a primary process moves money between accounts, one transfer per replicated
/// commit: the primary killed mid-commit, NATS nodes killed, paused and restarted. After each, the
/// replica that takes over holds every commit the primary acknowledged, never one the primary did
/// not make, and the balances add up.
final class ReplicationFailureTests: ClusterTestCase {
  override func tearDownWithError() throws {
    try cluster.restoreAll()
  }

  let directory = TestDirectory()
  let stream = "BANK\(UInt32.random(in: 0...UInt32.max))"

  /// The test's own calls retry for up to 60 s: after every node was killed and restarted, nats-server
  /// 2.9 can answer 503 (10008, "JetStream system temporarily unavailable") for over 20 s even after
  /// the stream had answered, while the cluster elects its leaders again.
  func options(node: String) -> ReplicationOptions {
    ReplicationOptions(servers: cluster.servers.map(\.description), stream: stream, node: node, timeout: 60)
  }

  func worker(node: String, transfers: Int? = nil, seed: UInt64 = 1) throws -> BankWorker {
    try BankWorker(stream: stream, path: directory.file(node).string, node: node, servers: cluster.servers, transfers: transfers, seed: seed)
  }

  /// Builds (or brings up to date) the replica `node` from the stream and checks it: it holds the
  /// acknowledged commit or the one after it (in flight when the primary failed), and the bank's
  /// invariant. Returns its epoch.
  @discardableResult
  func checkReplica(_ node: String, acknowledged: UInt64, file: StaticString = #filePath, line: UInt = #line) throws -> UInt64 {
    let replica = try Follower.open(at: directory.file(node), options: options(node: node))
    defer { try? replica.close() }
    let epoch = try replica.catchUp()
    XCTAssertTrue(
      (acknowledged...acknowledged + 1).contains(epoch), "replica at commit \(epoch), acknowledged \(acknowledged)", file: file, line: line)
    XCTAssertNil(Bank.audit(try SnapshotKV(region: replica.region, autocommit: false)), file: file, line: line)
    return epoch
  }

  func contents(_ node: String) throws -> [UInt8] {
    let region = try Region.open(at: directory.file(node))
    defer { try? region.close() }
    return region.withUnsafeBytes { Array($0) }
  }

  func testAPrimaryKilledMidCommitLosesNothingItAcknowledged() throws {
    for round in 0..<3 {
      let primary = try worker(node: "a", seed: UInt64(round))
      XCTAssertTrue(primary.waitForAcknowledgement(after: UInt64(20 * round + 20)))
      Thread.sleep(forTimeInterval: Double.random(in: 0...0.02))
      let acknowledged = try XCTUnwrap(primary.kill())
      let epoch = try checkReplica("b", acknowledged: acknowledged)
      // The killed primary, reopened, catches up: the same bytes as the replica, so it had made no
      // commit the stream does not hold.
      XCTAssertEqual(try checkReplica("a", acknowledged: epoch), epoch)
      XCTAssertTrue(try contents("a") == contents("b"), "round \(round): the primary and its replica differ")
    }
  }

  func testCommitsGoOnWithOneNodeDownOrCutOffAndStopWithTwoDown() throws {
    let primary = try worker(node: "a")
    XCTAssertTrue(primary.waitForAcknowledgement(after: 20))
    cluster.kill(1)
    let beforeLoss = try XCTUnwrap(primary.lastAcknowledged)
    XCTAssertTrue(primary.waitForAcknowledgement(after: beforeLoss + 20), "commits stopped with one node of three down")
    // Two of three gone: no majority, so the next commit is refused, and not made.
    cluster.kill(2)
    XCTAssertEqual(primary.waitForExit(timeout: 60), 3, "the primary kept committing without a majority")
    XCTAssertNotNil(primary.failureReason)
    let acknowledged = try XCTUnwrap(primary.lastAcknowledged)
    try cluster.restoreAll(streams: [stream])
    try checkReplica("b", acknowledged: acknowledged)

    // The same primary goes on once the cluster is back, and with a node cut off (stopped, its
    // connections open) as a network partition would.
    let resumed = try worker(node: "a")
    XCTAssertTrue(resumed.waitForAcknowledgement(after: acknowledged + 10))
    cluster.pause(3)
    let beforePartition = try XCTUnwrap(resumed.lastAcknowledged)
    XCTAssertTrue(resumed.waitForAcknowledgement(after: beforePartition + 20), "commits stopped with one node cut off")
    cluster.resume(3)
    let last = try XCTUnwrap(resumed.kill())
    let epoch = try checkReplica("b", acknowledged: last)
    XCTAssertEqual(try checkReplica("a", acknowledged: epoch), epoch)
    XCTAssertTrue(try contents("a") == contents("b"))
  }

  func testEverythingRestartedAndFailedOverKeepsEveryAcknowledgedCommit() throws {
    let primary = try worker(node: "a")
    XCTAssertTrue(primary.waitForAcknowledgement(after: 30))
    for node in NATSCluster.nodes { cluster.kill(node) }
    let acknowledged = try XCTUnwrap(primary.kill())
    try cluster.restoreAll(streams: [stream])

    // The replica takes over; the old primary is refused, then follows.
    try checkReplica("b", acknowledged: acknowledged)
    let epoch = try ReplicatedRegion.promote(at: directory.file("b"), options: options(node: "b"))
    let stale = try worker(node: "a", transfers: 1)
    XCTAssertEqual(stale.waitForExit(timeout: 60), 1, "the old primary was not refused")
    let successor = try worker(node: "b", transfers: 15, seed: 7)
    XCTAssertEqual(successor.waitForExit(timeout: 60), 0)
    XCTAssertEqual(successor.lastAcknowledged, epoch + 15)
    XCTAssertEqual(try checkReplica("a", acknowledged: epoch + 15), epoch + 15)
    XCTAssertTrue(try contents("a") == contents("b"))
  }
}
