import Snapshot

/// Why opening, following or promoting a replicated region failed.
public enum ReplicationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The NATS servers could not be reached, or JetStream refused or did not answer.
  case unreachable(stream: String, reason: String)
  /// The local region could not be opened, created or changed.
  case region(SnapshotError)
  /// Another node is the stream's primary: open this region as a follower, or take over with promote.
  case notPrimary(stream: String, primary: String)
  /// The stream does not hold the commit the region needs next (the region is older than the
  /// stream's first commit, or the stream lost commits): start the region from a copy of a recent one.
  case missingCommits(stream: String, needed: UInt64, first: UInt64)
  /// The region holds commits the stream does not: it was changed without replication, or comes from
  /// another stream. Replicating it would make the replicas disagree.
  case diverged(path: String, epoch: UInt64, streamEpoch: UInt64)
  /// A message of the stream is not an intact replication record.
  case corruptRecord(stream: String, sequence: UInt64)

  public var description: String {
    switch self {
    case .unreachable(let stream, let reason): return "stream \(stream): \(reason)"
    case .region(let error): return error.description
    case .notPrimary(let stream, let primary):
      return "stream \(stream): \(primary) is the primary; open this region as a follower, or promote it to take over"
    case .missingCommits(let stream, let needed, let first):
      return
        "stream \(stream) does not hold commit \(needed), which this region needs next (its first commit is \(first)): start the region from a copy of a closed replica instead"
    case .diverged(let path, let epoch, let streamEpoch):
      return
        "\(path) is at commit \(epoch) but stream ends at commit \(streamEpoch): the region was changed without replication, or belongs to another stream"
    case .corruptRecord(let stream, let sequence): return "stream \(stream): message \(sequence) is not an intact commit record"
    }
  }
}

extension ReplicationError {
  init(_ error: JetStreamError, stream: String) {
    self = .unreachable(stream: stream, reason: error.description)
  }
}
