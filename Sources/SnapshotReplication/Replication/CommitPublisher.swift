import Snapshot
import SystemPackage

/// The primary's end of replication: publishes each commit to the stream, expecting the stream to
/// end where this primary's last message left it, before the region makes the commit durable
/// locally. So the stream holds every commit the region holds; a commit it refused or never
/// acknowledged is not made; and once another primary has published, this one can publish nothing.
final class CommitPublisher: CommitListener {
  let log: ReplicatedLog
  /// The sequence of this primary's last message: its claim, then its last commit chunk.
  private(set) var lastSequence: UInt64
  /// Makes the message ids of this primary's publishes its own, so that the stream's duplicate
  /// detection drops a retried publish but never another primary's message for the same commit.
  let term = UInt64.random(in: 1...UInt64.max)
  /// Why an earlier commit failed: after that, the stream may hold a commit the region does not, so
  /// nothing more is committed through this handle.
  private(set) var failure: String?

  init(log: ReplicatedLog, lastSequence: UInt64) {
    self.log = log
    self.lastSequence = lastSequence
  }

  func willCommit(
    epoch: UInt64, size: Int, lines: UnsafeBufferPointer<UInt32>, working: UnsafeRawPointer, path: FilePath
  ) throws(SnapshotError) {
    if let failure { throw .replicationFailed(path: path.string, reason: "an earlier commit failed (\(failure))") }
    let records = ReplicationRecord.records(
      epoch: epoch, size: size, lines: lines, working: working, maximumRecordSize: log.maximumRecordSize)
    for (chunk, record) in records.enumerated() {
      do throws(JetStreamError) {
        lastSequence = try log.publish(
          record, to: log.commitSubject, headers: [(ReplicatedLog.epochHeader, String(epoch))],
          messageID: "\(term)-\(epoch)-\(chunk)", expectedLastSequence: lastSequence)
      } catch {
        failure = error.description
        throw .replicationFailed(path: path.string, reason: error.description)
      }
    }
  }
}
