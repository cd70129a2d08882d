import Foundation
import Snapshot
@testable import SnapshotReplication
import SnapshotTestSupport
import XCTest

/// A primary and its followers through a real three-node JetStream cluster: commits arrive whole and
/// in order, a follower resumes from its own epoch, a promoted follower fences the old primary.
final class ReplicationTests: ClusterTestCase {
  let directory = TestDirectory()

  func options(node: String, stream: String) -> ReplicationOptions {
    ReplicationOptions(servers: cluster.servers.map(\.description), stream: stream, node: node)
  }

  static func streamName(_ function: String) -> String {
    "T" + function.filter { $0.isLetter || $0.isNumber } + String(UInt32.random(in: 0...UInt32.max))
  }

  /// The bytes of a region's working copy.
  func contents(_ region: Region) -> [UInt8] { region.withUnsafeBytes { Array($0) } }

  func testAFollowerHoldsEveryCommitOfThePrimaryByteForByte() throws {
    let stream = Self.streamName(#function)
    let primary = try ReplicatedRegion.open(
      at: directory.file("primary"), options: options(node: "a", stream: stream), creatingWithSize: 1 << 20)
    var generator = SystemRandomNumberGenerator()
    for round in 0..<20 {
      for _ in 0..<(1 + round % 7) {
        primary.region.store(generator.next() as UInt64, at: Int.random(in: 0..<(1 << 17)) * 8)
      }
      try primary.region.msync()
    }
    XCTAssertEqual(primary.region.epoch, 20)

    let follower = try Follower.open(at: directory.file("replica"), options: options(node: "b", stream: stream))
    XCTAssertEqual(try follower.catchUp(), 20)
    XCTAssertEqual(follower.region.size, primary.region.size)
    XCTAssertTrue(contents(follower.region) == contents(primary.region), "the replica differs from the primary")
    try follower.close()
    try primary.close()
  }

  func testACommitLargerThanAMessageArrivesWholeAndAGrownRegionGrowsTheReplica() throws {
    let stream = Self.streamName(#function)
    let primary = try ReplicatedRegion.open(
      at: directory.file("primary"), options: options(node: "a", stream: stream), creatingWithSize: 1 << 20)
    // 3 MiB of changes: more than the server's 1 MiB payload, so several chunks.
    try primary.region.grow(to: 4 << 20)
    let pattern = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
    pattern.withUnsafeBytes { primary.region.copy(from: $0, to: 1 << 19) }
    try primary.region.msync()

    // The claim, then the commit in several messages.
    let connection = try NATSConnection.connect(to: cluster.servers)
    defer { connection.close() }
    XCTAssertGreaterThanOrEqual(try XCTUnwrap(JetStream(connection: connection).streamState(stream)).messages, 4)

    let follower = try Follower.open(at: directory.file("replica"), options: options(node: "b", stream: stream))
    XCTAssertEqual(try follower.catchUp(), 1)
    XCTAssertEqual(follower.region.size, 4 << 20)
    XCTAssertTrue(contents(follower.region) == contents(primary.region), "the replica differs from the primary")
    try follower.close()
    try primary.close()
  }

  func testAFollowerResumesFromItsOwnEpochAfterARestart() throws {
    let stream = Self.streamName(#function)
    let primary = try ReplicatedRegion.open(
      at: directory.file("primary"), options: options(node: "a", stream: stream), creatingWithSize: 1 << 16)
    func commit(_ value: UInt64) throws {
      primary.region.store(value, at: Int(value % 512) * 8)
      try primary.region.msync()
    }
    for value in 1...5 as ClosedRange<UInt64> { try commit(value) }
    var follower = try Follower.open(at: directory.file("replica"), options: options(node: "b", stream: stream))
    XCTAssertEqual(try follower.catchUp(), 5)
    try follower.close()
    for value in 6...9 as ClosedRange<UInt64> { try commit(value) }
    follower = try Follower.open(at: directory.file("replica"), options: options(node: "b", stream: stream), creating: false)
    XCTAssertEqual(follower.region.epoch, 5)
    XCTAssertEqual(try follower.catchUp(), 9)
    XCTAssertTrue(contents(follower.region) == contents(primary.region), "the replica differs from the primary")
    try follower.close()
    try primary.close()
  }

  func testAPromotedFollowerFencesTheOldPrimaryWhichThenFollows() throws {
    let stream = Self.streamName(#function)
    let old = try ReplicatedRegion.open(at: directory.file("a"), options: options(node: "a", stream: stream), creatingWithSize: 1 << 16)
    old.region.store(UInt64(1), at: 0)
    try old.region.msync()
    let follower = try Follower.open(at: directory.file("b"), options: options(node: "b", stream: stream))
    try follower.catchUp()
    try follower.close()
    old.region.store(UInt64(2), at: 0)
    try old.region.msync()

    // b takes over: it applies commit 2, which it had not seen, before claiming the stream.
    XCTAssertEqual(try ReplicatedRegion.promote(at: directory.file("b"), options: options(node: "b", stream: stream)), 2)
    // The old primary's next commit is refused, and not made.
    old.region.store(UInt64(3), at: 0)
    XCTAssertThrowsError(try old.region.msync()) { error in
      guard case .replicationFailed = error as? SnapshotError else { return XCTFail("\(error)") }
    }
    XCTAssertEqual(old.region.epoch, 2)
    // ... and so is every later one through that handle.
    XCTAssertThrowsError(try old.region.msync())
    try old.close()
    XCTAssertThrowsError(try ReplicatedRegion.open(at: directory.file("a"), options: options(node: "a", stream: stream))) { error in
      XCTAssertEqual(error as? ReplicationError, .notPrimary(stream: stream, primary: "b"))
    }

    let new = try ReplicatedRegion.open(at: directory.file("b"), options: options(node: "b", stream: stream))
    XCTAssertEqual(new.region.load(UInt64.self, at: 0), 2)
    new.region.store(UInt64(30), at: 0)
    try new.region.msync()
    try new.close()

    // The old primary, now a follower, gets the new primary's commit, never its own refused one.
    let oldAsFollower = try Follower.open(at: directory.file("a"), options: options(node: "a", stream: stream))
    XCTAssertEqual(try oldAsFollower.catchUp(), 3)
    XCTAssertEqual(oldAsFollower.region.load(UInt64.self, at: 0), 30)
    try oldAsFollower.close()
  }

  func testARegionChangedWithoutReplicationIsRefused() throws {
    let stream = Self.streamName(#function)
    let primary = try ReplicatedRegion.open(at: directory.file("a"), options: options(node: "a", stream: stream), creatingWithSize: 1 << 16)
    primary.region.store(UInt64(1), at: 0)
    try primary.region.msync()
    try primary.close()
    let bare = try Region.open(at: directory.file("a"))
    bare.store(UInt64(2), at: 0)
    try bare.msync()
    try bare.close()
    var quick = options(node: "a", stream: stream)
    quick.timeout = 1
    XCTAssertThrowsError(try ReplicatedRegion.open(at: directory.file("a"), options: quick)) { error in
      XCTAssertEqual(error as? ReplicationError, .diverged(path: directory.file("a").string, epoch: 2, streamEpoch: 1))
    }
  }

  func testAnEmptyFollowerOfAStreamThatStartsLateAsksForACopy() throws {
    let stream = Self.streamName(#function)
    // A region with two commits made before replication: the stream starts at commit 3.
    let region = try Region.create(at: directory.file("a"), size: 1 << 16)
    for value in 1...2 as ClosedRange<UInt64> {
      region.store(value, at: 0)
      try region.msync()
    }
    try region.close()
    let primary = try ReplicatedRegion.open(at: directory.file("a"), options: options(node: "a", stream: stream))
    primary.region.store(UInt64(3), at: 0)
    try primary.region.msync()
    try primary.close()

    let empty = try Follower.open(at: directory.file("b"), options: options(node: "b", stream: stream))
    XCTAssertThrowsError(try empty.catchUp()) { error in
      XCTAssertEqual(error as? ReplicationError, .missingCommits(stream: stream, needed: 1, first: 3))
    }
    try empty.close()
    // A copy of the closed primary (at commit 3) follows from there.
    try FileManager.default.removeItem(atPath: directory.file("b").string)
    try FileManager.default.copyItem(atPath: directory.file("a").string, toPath: directory.file("b").string)
    let copy = try Follower.open(at: directory.file("b"), options: options(node: "b", stream: stream), creating: false)
    XCTAssertEqual(try copy.catchUp(), 3)
    XCTAssertEqual(copy.region.load(UInt64.self, at: 0), 3)
    try copy.close()
  }
}

extension ReplicationTests {
  func testTheCommandLineFollowsAndPromotes() throws {
    let stream = Self.streamName(#function)
    let servers = cluster.servers.map(\.description).joined(separator: ",")
    let primary = try ReplicatedRegion.open(at: directory.file("a"), options: options(node: "a", stream: stream), creatingWithSize: 1 << 16)
    for value in 1...3 as ClosedRange<UInt64> {
      primary.region.store(value, at: 64)
      try primary.region.msync()
    }
    let replica = directory.file("b").string
    let followed = try runSnapshot(["follow", stream, replica, "--servers", servers, "--once"])
    XCTAssertEqual(followed.status, 0, followed.standardError)
    XCTAssertEqual(followed.standardOutput, "\(replica): at commit 3 of stream \(stream)\n")

    let promoted = try runSnapshot(["promote", stream, replica, "--servers", servers, "--node", "b"])
    XCTAssertEqual(promoted.status, 0, promoted.standardError)
    XCTAssertEqual(promoted.standardOutput, "\(replica): primary of stream \(stream) at commit 3\n")
    primary.region.store(UInt64(4), at: 64)
    XCTAssertThrowsError(try primary.region.msync())
    try primary.close()

    let unreachable = try runSnapshot(["follow", stream, replica, "--servers", "127.0.0.1:1", "--once", "--timeout", "1"])
    XCTAssertEqual(unreachable.status, 1)
    XCTAssertTrue(unreachable.standardError.hasPrefix("error: stream \(stream): cannot connect to a NATS server (127.0.0.1:1)"), unreachable.standardError)
  }
}

extension ReplicationTests {
  /// What a commit retried after a lost acknowledgement relies on: the same message, id and expected
  /// sequence, sent again, is stored once and answered with its first sequence.
  func testAPublishSentAgainIsStoredOnce() throws {
    let stream = Self.streamName(#function)
    let log = try ReplicatedLog(options: options(node: "a", stream: stream))
    let first = try log.publish([1, 2, 3], to: log.commitSubject, headers: [], messageID: "t-1-0", expectedLastSequence: 0)
    let again = try log.publish([1, 2, 3], to: log.commitSubject, headers: [], messageID: "t-1-0", expectedLastSequence: 0)
    XCTAssertEqual(again, first)
    XCTAssertEqual(try log.state().messages, 1)
  }
}

extension ReplicationTests {
  /// A read hands on nothing past the end it was given, though its consumer delivers the messages
  /// after it in the same batch: a server can deliver a message the stream's state does not hold
  /// (right after the cluster restarts, one the cluster then drops), and a replica must not apply it.
  func testAReadStopsAtItsEndThoughMoreIsDelivered() throws {
    let stream = Self.streamName(#function)
    let log = try ReplicatedLog(options: options(node: "a", stream: stream))
    for sequence in 1...5 {
      _ = try log.publish(
        [UInt8(sequence)], to: log.commitSubject, headers: [], messageID: "t-\(sequence)", expectedLastSequence: UInt64(sequence - 1))
    }
    var read: [UInt64] = []
    let next = try log.read(from: 1, through: 3) { sequence, _ in read.append(sequence) }
    XCTAssertEqual(read, [1, 2, 3])
    XCTAssertEqual(next, 4)
  }
}
