import Snapshot

/// Applies a stream's commits to a region, in order: the chunks of each commit are gathered, and a
/// complete commit is written to the region with one msync, so that the region's epoch follows the
/// primary's commit for commit.
struct CommitApplier {
  let region: Region
  let stream: String
  /// The chunks of the commit being gathered.
  private var chunks: [ReplicationRecord] = []

  init(region: Region, stream: String) {
    self.region = region
    self.stream = stream
  }

  /// Takes the stream's next commit message (`sequence` only names it in errors).
  mutating func add(_ payload: [UInt8], sequence: UInt64) throws(ReplicationError) {
    guard let record = ReplicationRecord(decoding: payload) else { throw .corruptRecord(stream: stream, sequence: sequence) }
    // A chunk that does not continue the commit being gathered starts over: the chunks before it
    // belong to a commit whose primary died before publishing all of them, which nobody applies.
    if record.chunk == 0 {
      chunks = [record]
    } else if let last = chunks.last, last.epoch == record.epoch, last.chunk + 1 == record.chunk,
      last.chunkCount == record.chunkCount
    {
      chunks.append(record)
    } else {
      chunks = []
      return
    }
    guard record.chunk == record.chunkCount - 1 else { return }
    defer { chunks = [] }
    try apply(chunks)
  }

  private mutating func apply(_ commit: [ReplicationRecord]) throws(ReplicationError) {
    let epoch = commit[0].epoch
    guard epoch > region.epoch else { return }
    guard epoch == region.epoch + 1 else {
      throw .missingCommits(stream: stream, needed: region.epoch + 1, first: epoch)
    }
    do throws(SnapshotError) {
      if commit[0].size > region.size { try region.grow(to: commit[0].size) }
      for record in commit {
        for run in record.runs {
          run.bytes.withUnsafeBytes { region.copy(from: $0, to: run.offset) }
        }
      }
      try region.msync()
    } catch {
      throw .region(error)
    }
    // Every commit changes at least one line, so one applied commit is one local commit.
    guard region.epoch == epoch else { throw .diverged(path: region.path.string, epoch: region.epoch, streamEpoch: epoch) }
  }
}
