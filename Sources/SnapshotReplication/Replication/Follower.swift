import Foundation
import Snapshot
import SystemPackage

/// A replica of a replicated region: applies the stream's commits to a region of its own, in order,
/// each as one local msync, so that the replica always holds exactly the state of one of the
/// primary's commits.
///
/// A follower resumes after a restart from its own region's epoch: nothing else is kept. A new
/// follower starts from an empty region when the stream begins with the primary's first commit, or
/// from a copy of a closed replica (or of the primary after a ``Region/close()``) when it does not.
///
/// The follower holds the region's file lock while it runs, so no other process can open the region;
/// read it in the follower's process through ``region`` between calls to ``catchUp()``, or promote
/// the replica and open it.
public final class Follower {
  /// The replica. Do not store into it: the next commit from the stream would not apply over it.
  public let region: Region
  let log: ReplicatedLog
  private var applier: CommitApplier
  /// The stream sequence to read next.
  private var next: UInt64?

  private init(region: Region, log: ReplicatedLog) {
    self.region = region
    self.log = log
    self.applier = CommitApplier(region: region, stream: log.stream)
  }

  /// Opens the replica at `path`, creating an empty one (sized by the stream's first commit) when
  /// there is no file and `creating` is true.
  public static func open(
    at path: FilePath, options: ReplicationOptions, creating: Bool = true, createOptions: Region.CreateOptions = .init()
  ) throws(ReplicationError) -> Follower {
    let log = try ReplicatedLog(options: options)
    let region = try Replica.openRegion(at: path, log: log, creatingWithSize: creating ? 4096 : nil, createOptions: createOptions)
    do throws(ReplicationError) {
      try Replica.checkNotAhead(region, of: log, state: log.state())
    } catch {
      try? region.close()
      throw error
    }
    return Follower(region: region, log: log)
  }

  /// Applies every commit the stream holds now; returns the epoch the replica is at.
  @discardableResult
  public func catchUp() throws(ReplicationError) -> UInt64 {
    let end = try log.state().lastSequence
    try follow(through: end)
    // The end once more, in case the first answer came from a leader that had been cut off and did
    // not know the stream's latest messages yet.
    let latest = try log.state().lastSequence
    if latest > end { try follow(through: latest) }
    return region.epoch
  }

  /// Applies the stream's commits as they come, until `keepGoing` returns false (it is asked after
  /// each batch of messages fetched, and at least every `wait` seconds when none come).
  public func follow(wait: Double = 1, keepGoing: () -> Bool) throws(ReplicationError) {
    try follow(through: nil, wait: wait, keepGoing: keepGoing)
  }

  private func follow(through end: UInt64?, wait: Double = 1, keepGoing: () -> Bool = { true }) throws(ReplicationError) {
    if next == nil {
      let state = try log.state()
      next = try log.firstSequence(after: region.epoch, in: state) ?? state.lastSequence + 1
    }
    if let end, next! > end { return }
    next = try log.read(from: next!, through: end, wait: wait, keepGoing: keepGoing) {
      (sequence, payload) throws(ReplicationError) in
      try applier.add(payload, sequence: sequence)
    }
  }

  /// Closes the replica (see ``Region/close()``) and the connection.
  public func close() throws(SnapshotError) {
    try region.close()
  }
}
