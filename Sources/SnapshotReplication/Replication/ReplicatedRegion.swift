import Foundation
import Snapshot
import SystemPackage

/// A region whose every commit is replicated through a NATS JetStream stream before it is made: the
/// primary of a group of replicas (see ``Follower``).
///
/// ```swift
/// let options = ReplicationOptions(servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"], stream: "ACCOUNTS")
/// let primary = try ReplicatedRegion.open(at: "/data/accounts.region", options: options, creatingWithSize: 1 << 26)
/// primary.region.store(UInt64(42), at: 0)
/// try primary.region.msync()   // acknowledged by a majority of the stream's servers, then durable here
/// ```
///
/// `msync` first publishes the commit (the changed lines) to the stream and waits until a majority of
/// its replicas stored it, then makes it durable locally. When it returns, the commit survives the
/// loss of this machine and of a minority of the servers. When it throws
/// (``SnapshotError/replicationFailed(path:reason:)``), the commit was not made locally; the stream
/// may hold it, if only its acknowledgement was lost, so the handle commits nothing more: reopen,
/// which brings the region to what the stream holds.
///
/// One primary at a time: opening claims the stream, and each publish expects the stream to end at
/// this primary's last message. A node promoted after this one (``promote(at:options:)``) publishes a
/// claim of its own, after which every publish of this handle is refused, and opening the region
/// here again as primary is refused too (``ReplicationError/notPrimary(stream:primary:)``).
public final class ReplicatedRegion {
  /// The region: store into it and call its `msync` as with any region.
  public let region: Region
  let log: ReplicatedLog
  let publisher: CommitPublisher

  private init(region: Region, log: ReplicatedLog, publisher: CommitPublisher) {
    self.region = region
    self.log = log
    self.publisher = publisher
  }

  /// Opens the region as the stream's primary: applies the commits the stream holds beyond the
  /// region's (those of a primary that failed over to this one, or a commit whose acknowledgement
  /// was lost), then claims the stream.
  ///
  /// - Parameters:
  ///   - creatingWithSize: When there is no file at `path`, create the region (this size, or the size
  ///     of the stream's first commit) and build it from the stream; nil refuses a missing file.
  ///   - takingOver: Claim the stream even when another node is its primary (``promote(at:options:)``).
  /// - Throws: ``ReplicationError/notPrimary(stream:primary:)`` when another node claimed the stream
  ///   last; ``ReplicationError/diverged(path:epoch:streamEpoch:)`` when the region holds commits the
  ///   stream does not.
  public static func open(
    at path: FilePath, options: ReplicationOptions, creatingWithSize: Int? = nil, createOptions: Region.CreateOptions = .init(),
    takingOver: Bool = false
  ) throws(ReplicationError) -> ReplicatedRegion {
    let log = try ReplicatedLog(options: options)
    let region = try Replica.openRegion(at: path, log: log, creatingWithSize: creatingWithSize, createOptions: createOptions)
    do throws(ReplicationError) {
      let node = options.nodeName(for: path)
      var attempts = 0
      while true {
        let end = try Replica.catchUp(region, from: log)
        if let claim = try log.lastClaim(), claim.node != node, !takingOver {
          throw .notPrimary(stream: options.stream, primary: claim.node)
        }
        // The claim is published only if the stream still ends where catching up left it; else
        // someone published meanwhile, and catching up starts again.
        do throws(JetStreamError) {
          let sequence = try log.publish(
            Array(node.utf8), to: log.claimSubject, headers: [(ReplicatedLog.epochHeader, String(region.epoch))],
            messageID: "claim-\(UInt64.random(in: 0...UInt64.max))", expectedLastSequence: end)
          let publisher = CommitPublisher(log: log, lastSequence: sequence)
          region.commitListener = publisher
          return ReplicatedRegion(region: region, log: log, publisher: publisher)
        } catch .wrongLastSequence where attempts < 10 {
          attempts += 1
        } catch {
          throw ReplicationError(error, stream: options.stream)
        }
      }
    } catch {
      try? region.close()
      throw error
    }
  }

  /// Makes the region at `path` the stream's primary in place of whichever node was: applies every
  /// commit the stream holds, then claims it, so that the former primary's publishes are refused
  /// from then on. Returns the epoch the region holds; it is closed again, for the program that will
  /// open it as primary (with the same ``ReplicationOptions/node``).
  @discardableResult
  public static func promote(at path: FilePath, options: ReplicationOptions) throws(ReplicationError) -> UInt64 {
    let primary = try open(at: path, options: options, takingOver: true)
    let epoch = primary.region.epoch
    do {
      try primary.close()
    } catch {
      throw .region(error)
    }
    return epoch
  }

  /// Closes the region (see ``Region/close()``) and the connection.
  public func close() throws(SnapshotError) {
    region.commitListener = nil
    try region.close()
  }
}

/// What the primary and the followers share: opening the local region, and applying the stream to it.
enum Replica {
  /// Opens the region, or creates it when missing and `creatingWithSize` allows (with the size of the
  /// stream's first commit when the stream has one).
  static func openRegion(
    at path: FilePath, log: ReplicatedLog, creatingWithSize: Int?, createOptions: Region.CreateOptions
  ) throws(ReplicationError) -> Region {
    if FileManager.default.fileExists(atPath: path.string) || creatingWithSize == nil {
      return try regionStep { () throws(SnapshotError) in try Region.open(at: path) }
    }
    var size = creatingWithSize!
    let state = try log.state()
    if let first = try log.firstSequence(after: 0, in: state) {
      let message = try log.retrying { () throws(JetStreamError) in try log.jetStream.message(in: log.stream, at: first) }
      if let message, message.subject == log.commitSubject, let record = ReplicationRecord(decoding: message.payload) {
        size = max(size, record.size)
      }
    }
    return try regionStep { () throws(SnapshotError) in try Region.create(at: path, size: size, options: createOptions) }
  }

  static func regionStep<Result>(_ body: () throws(SnapshotError) -> Result) throws(ReplicationError) -> Result {
    do {
      return try body()
    } catch {
      throw .region(error)
    }
  }

  /// Applies every commit the stream holds beyond the region's; returns the sequence the stream
  /// ended at.
  @discardableResult
  static func catchUp(_ region: Region, from log: ReplicatedLog) throws(ReplicationError) -> UInt64 {
    let state = try log.state()
    var applier = CommitApplier(region: region, stream: log.stream)
    if let start = try log.firstSequence(after: region.epoch, in: state) {
      _ = try log.read(from: start, through: state.lastSequence) { (sequence, payload) throws(ReplicationError) in
        try applier.add(payload, sequence: sequence)
      }
    }
    try checkNotAhead(region, of: log, state: state)
    return state.lastSequence
  }

  /// The region must not hold a commit the stream does not: the last message of the stream (a
  /// commit, or a claim, which carries the epoch its primary started from) belongs to the region's
  /// commit or a later one. An empty stream starts at the region's epoch.
  static func checkNotAhead(_ region: Region, of log: ReplicatedLog, state: JetStream.StreamState) throws(ReplicationError) {
    var state = state
    // A server that was cut off (paused) or has just restarted may answer for a while with the
    // stream as it knew it: read the end again, up to the timeout, before refusing.
    let deadline = Date(timeIntervalSinceNow: log.options.timeout)
    while true {
      guard state.messages > 0, let streamEpoch = try log.epoch(at: state.lastSequence), region.epoch > streamEpoch else { return }
      guard Date() < deadline else { throw .diverged(path: region.path.string, epoch: region.epoch, streamEpoch: streamEpoch) }
      Thread.sleep(forTimeInterval: 0.25)
      state = try log.state()
    }
  }
}
