import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotTestSupport
import SnapshotVerification

/// Batches written home on another core ahead of the checkpoint (`CheckpointAhead`), with the
/// production schedule: a real worker thread racing the commits that follow its hand-off. The crash
/// simulator checks the same code at the two ends of its timing; these check that the concurrent
/// schedule leaves the same home copy (and, under the thread sanitizer, that it shares nothing
/// unsynchronized). Named for the sanitizer's filter (`ThreadsTests`).
@Suite struct CheckpointAheadThreadsTests {
  static let size = 1 << 20

  /// Commits `rounds` msyncs of a few 8-byte stores to random lines (and, every eighth, to one hot
  /// line, whose versions the chunks and the checkpoint must write home in order) to a
  /// persistent-memory region whose small checkpoint threshold makes it hand off a chunk every few
  /// commits, mirroring them into `expected`.
  func commitRounds(_ region: Region, rounds: Int, seed: UInt64, into expected: inout [UInt64]) throws {
    var generator = SeededGenerator(seed: seed)
    func store(_ slot: Int, round: Int) {
      let value = UInt64(round) << 32 | generator.next() & 0xFFFF_FFFF
      region.store(value, at: slot * 8)
      expected[slot] = value
    }
    for round in 0..<rounds {
      for _ in 0..<4 { store(Int(generator.next() % UInt64(expected.count)), round: round) }
      if round % 8 == 0 { store(3, round: round) }
      try region.msync()
    }
  }

  /// The words of `region` that differ from `expected`.
  func mismatches(_ region: Region, _ expected: [UInt64]) -> Int {
    region.withUnsafeBytes { bytes in zip(bytes.bindMemory(to: UInt64.self), expected).count { $0 != $1 } }
  }

  func journal(_ region: Region) -> MemoryRedoJournal<PersistentMemory> {
    region.journal as! MemoryRedoJournal<PersistentMemory>
  }

  @Test func checkpointsKeepTheNewestVersionOfEveryLine() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: Self.size, options: .init(backing: .persistentMemory))
    region.checkpointThreshold = 32 << 10
    var expected = [UInt64](repeating: 0, count: Self.size / 8)
    try commitRounds(region, rounds: 3000, seed: 7, into: &expected)
    #expect(journal(region).chunksWrittenAhead > 50, "chunks were handed off: \(journal(region).chunksWrittenAhead)")
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.recovery.outcome == .clean)
    #expect(mismatches(reopened, expected) == 0)
    try reopened.close()
  }

  /// A region let go of without a checkpoint, as a killed process would, after chunks were written
  /// home ahead: recovery replays every batch since the last checkpoint over a home copy that already
  /// holds some of them, and ends at the last commit.
  @Test func recoveryAfterAKillReplaysOverWhatWentHomeAhead() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    for kill in [1000, 1013, 1029] {
      let region = try Region.create(at: path, size: Self.size, options: .init(backing: .persistentMemory))
      region.checkpointThreshold = 32 << 10
      var expected = [UInt64](repeating: 0, count: Self.size / 8)
      try commitRounds(region, rounds: kill, seed: UInt64(kill), into: &expected)
      #expect(journal(region).chunksWrittenAhead > 10)
      region.abandon()
      let reopened = try Region.open(at: path)
      guard case .replayed = reopened.recovery.outcome else {
        Issue.record("expected a replay, got \(reopened.recovery.outcome)")
        return
      }
      #expect(mismatches(reopened, expected) == 0)
      try reopened.close()
      try FileManager.default.removeItem(atPath: path.string)
    }
  }

  /// A line committed in every chunk is left to the checkpoint by each chunk (the batches after it
  /// commit it again), so it goes home once per checkpoint, not once per chunk.
  @Test func aLineCommittedInEveryChunkGoesHomeOncePerCheckpoint() throws {
    let directory = TestDirectory()
    let region = try Region.create(at: directory.file("region"), size: Self.size, options: .init(backing: .persistentMemory))
    region.checkpointThreshold = 32 << 10
    let start = region.bytesWritten
    let rounds = 2560
    for round in 0..<rounds {
      region.store(UInt64(round), at: 0)
      try region.msync()
    }
    // Each batch is a head line and the one line; a checkpoint every 32 KiB of log, nine in all. At
    // least one chunk goes in each of the ten stretches between them, whatever the worker's timing:
    // a checkpoint waits for the chunk in flight, so the first chunk after it finds the worker idle.
    let homeBytes = region.bytesWritten - start - rounds * 128
    #expect(journal(region).chunksWrittenAhead >= 10)
    #expect(homeBytes == 9 * (64 + 8), "bytes written home and in checkpoint words: \(homeBytes)")
    try region.close()
  }
}
