import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotTestSupport

/// Recovery never rolls back past damage: when a commit acknowledged after a damaged or missing redo
/// batch is still intact in the log, opening and inspecting refuse, and the files stay as they were.
@Suite struct SilentRollbackTests {
  /// A crashed region with four one-line commits in its redo log (each batch 128 bytes: a head line
  /// and a data line), as a copy of its files taken before any checkpoint.
  struct Crashed {
    let directory: TestDirectory
    let medium: Region.Backing
    let data: Data
    let log: Data?
    let copy: FilePath

    init(_ medium: Region.Backing, name: String = #function) throws {
      directory = TestDirectory(name, onDisk: medium == .file)
      self.medium = medium
      let path = directory.file("region")
      let region = try Region.create(at: path, size: 8192, options: .init(backing: medium))
      for commit in 1...4 {
        region.store(UInt64(commit), at: 64 * commit)
        try region.msync()
      }
      data = try Data(contentsOf: path)
      log = medium == .file ? try Data(contentsOf: FilePath(path.string + "-log")) : nil
      try region.close()
      copy = directory.file("crashed")
    }

    /// Where the log's batches start in the file that holds them.
    var logStart: Int { medium == .file ? LogFileHeader.batchesOffset : 4096 + 8192 }
    var logPath: FilePath { medium == .file ? FilePath(copy.string + "-log") : copy }

    /// Writes the copy with `edit` applied to the bytes of the log (at positions relative to the log).
    func write(_ edit: (inout Data, Int) -> Void) throws {
      var data = data
      var log = log
      if log != nil { edit(&log!, logStart) } else { edit(&data, logStart) }
      try data.write(to: copy)
      try log?.write(to: FilePath(copy.string + "-log"))
    }

    /// Opening and inspecting both throw `expected`; neither changes a byte.
    func expectRefusal(_ expected: SnapshotError, sourceLocation: SourceLocation = #_sourceLocation) throws {
      let before = try Data(contentsOf: logPath)
      #expect(throws: expected, sourceLocation: sourceLocation) { try Region.inspect(at: copy) }
      #expect(throws: expected, sourceLocation: sourceLocation) { try Region.open(at: copy) }
      #expect(try Data(contentsOf: logPath) == before, "the log changed", sourceLocation: sourceLocation)
    }

    func damaged(epoch: UInt64, offset: Int, laterEpoch: UInt64, laterOffset: Int) -> SnapshotError {
      .damagedBeforeLaterCommit(
        path: logPath.string, epoch: epoch, offset: offset, laterEpoch: laterEpoch, laterOffset: laterOffset)
    }
  }

  static let media: [Region.Backing] = [.persistentMemory, .file]

  @Test(arguments: media) func damagedEpochWordBeforeIntactCommits(_ medium: Region.Backing) throws {
    let crashed = try Crashed(medium)
    try crashed.write { bytes, log in bytes[log + 128 + 8] ^= 0x40 }
    try crashed.expectRefusal(crashed.damaged(epoch: 2, offset: 128, laterEpoch: 3, laterOffset: 256))
  }

  @Test(arguments: media) func damagedSaltWordBeforeIntactCommits(_ medium: Region.Backing) throws {
    let crashed = try Crashed(medium)
    try crashed.write { bytes, log in bytes[log + 16 + 5] ^= 0x01 }
    try crashed.expectRefusal(crashed.damaged(epoch: 1, offset: 0, laterEpoch: 2, laterOffset: 128))
  }

  /// Two torn batches in a row: the commit after both is still found.
  @Test(arguments: media) func twoTornBatchesBeforeAnIntactCommit(_ medium: Region.Backing) throws {
    let crashed = try Crashed(medium)
    try crashed.write { bytes, log in
      bytes[log + 128 + 64 + 3] ^= 0xEE
      bytes[log + 256 + 64 + 3] ^= 0xEE
    }
    try crashed.expectRefusal(crashed.damaged(epoch: 2, offset: 128, laterEpoch: 4, laterOffset: 384))
  }

  /// Damage to the last batch alone is what a crash during its msync leaves: the commit before it
  /// is recovered, and nothing is refused.
  @Test(arguments: media) func tornLastBatchIsAnInterruptedCommit(_ medium: Region.Backing) throws {
    let crashed = try Crashed(medium)
    try crashed.write { bytes, log in bytes[log + 384 + 64 + 3] ^= 0xEE }
    let region = try Region.open(at: crashed.copy)
    #expect(region.recovery.outcome == .replayed(commits: 3, lines: 3))
    #expect(region.epoch == 3)
    #expect(region.load(UInt64.self, at: 64 * 3) == 3)
    #expect(region.load(UInt64.self, at: 64 * 4) == 0)
    try region.close()
  }

  /// A log file never shrinks below what its creation wrote, so a shorter one was cut, however
  /// cleanly its batches seem to end.
  @Test func logFileCutInsideABatch() throws {
    let crashed = try Crashed(.file)
    try crashed.write { bytes, log in bytes.removeSubrange((log + 256 + 64)...) }
    let expected = Int64(LogFileHeader.batchesOffset + RedoJournalLayout.logSize(lineCount: 8192 / 64))
    try crashed.expectRefusal(.truncated(path: crashed.logPath.string, size: Int64(4096 + 256 + 64), expected: expected))
  }

  /// A log file that grew for a large commit: a later batch cut off by the end of the file is not
  /// what a crash leaves (only a batch at the start of the log makes the file grow).
  @Test func grownLogFileCutInsideALaterBatch() throws {
    let directory = TestDirectory(onDisk: true)
    let path = directory.file("region")
    let size = 24 << 20
    let region = try Region.create(at: path, size: size, options: .init(backing: .file))
    region.fill(1, at: 0, count: size)
    try region.msync()
    try region.checkpoint()
    // A batch past the size written at creation, then two small ones after it.
    region.checkpointThreshold = 64 << 20
    let large = 17 << 20
    region.fill(2, at: 0, count: large)
    try region.msync()
    for commit in 3...4 {
      region.store(UInt64(commit), at: large + 64 * commit)
      try region.msync()
    }
    var log = try Data(contentsOf: FilePath(path.string + "-log"))
    let data = try Data(contentsOf: path)
    try region.close()
    let fourth = 64 + large + 128
    #expect(log.count > LogFileHeader.batchesOffset + fourth + 128)

    let copy = directory.file("crashed")
    try data.write(to: copy)
    log.removeSubrange((LogFileHeader.batchesOffset + fourth + 64)...)
    try log.write(to: FilePath(copy.string + "-log"))
    let error = #expect(throws: SnapshotError.self) { try Region.open(at: copy) }
    guard case .logCorrupt(_, let reason)? = error else {
      Issue.record("expected logCorrupt, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("redo batch 4 at log offset \(fourth)"))
    #expect(reason.contains("truncated"))
  }
}
