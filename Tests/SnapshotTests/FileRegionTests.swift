import Foundation
import Synchronization
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotVerification
import SnapshotTestSupport

/// Regions on an ordinary file: the data file, the log beside it, one fdatasync per msync.
@Suite struct FileRegionTests {
  func fileRegion(_ directory: TestDirectory, size: Int = 64 << 10) throws -> (FilePath, Region) {
    let path = directory.file("region")
    return (path, try Region.create(at: path, size: size, options: .init(backing: .file)))
  }

  @Test func committedChangesSurviveReopen() throws {
    let directory = TestDirectory(onDisk: true)
    let (path, region) = try fileRegion(directory)
    #expect(region.backing == .file)
    #expect(FileManager.default.fileExists(atPath: path.string + "-log"))
    region.store(UInt64(42), at: 0)
    region.fill(7, at: 1000, count: 3000)
    #expect(try region.msync() == 1)
    region.store(UInt64(99), at: 0)
    try region.close()

    let reopened = try Region.open(at: path)
    #expect(reopened.recovery.outcome == .clean)
    #expect(reopened.epoch == 1)
    #expect(reopened.load(UInt64.self, at: 0) == 42)
    #expect(reopened.load(UInt8.self, at: 3999) == 7)
    try reopened.close()
  }

  @Test func automaticMediumFollowsTheFileSystem() throws {
    let disk = TestDirectory(onDisk: true)
    let memory = TestDirectory()
    let onDisk = try Region.create(at: disk.file("region"), size: 4096)
    let inMemory = try Region.create(at: memory.file("region"), size: 4096)
    let diskKind = FileSystemKind.of(directory: disk.path)?.type
    #expect(onDisk.backing == (diskKind == "tmpfs" ? .persistentMemory : .file))
    #expect(inMemory.backing == .persistentMemory)
  }

  /// A crash after msync returned leaves the commits in the log only; reopening replays them.
  @Test func crashedRegionReplaysItsLog() throws {
    let directory = TestDirectory(onDisk: true)
    let (path, region) = try fileRegion(directory)
    for round in 0..<5 {
      region.store(UInt64(round + 1), at: 128 * round)
      try region.msync()
    }
    // As a process crash now would leave the files: five batches, no checkpoint.
    let crashed = directory.file("crashed")
    try Data(contentsOf: path).write(to: crashed)
    try Data(contentsOf: FilePath(path.string + "-log")).write(to: FilePath(crashed.string + "-log"))
    try region.close()

    let info = try Region.inspect(at: crashed)
    #expect(info.pendingRecovery == .replayed(commits: 5, lines: 5))
    #expect(info.checkpointEpoch == 0)
    let recovered = try Region.open(at: crashed)
    #expect(recovered.recovery.outcome == .replayed(commits: 5, lines: 5))
    #expect(recovered.epoch == 5)
    #expect(recovered.load(UInt64.self, at: 128 * 4) == 5)
    try recovered.close()
    #expect(try Region.inspect(at: crashed).pendingRecovery == .clean)
    #expect(try Region.inspect(at: crashed).checkpointEpoch == 5)
  }

  @Test func discardRestoresCommittedLinesFromTheLog() throws {
    let directory = TestDirectory(onDisk: true)
    let (_, region) = try fileRegion(directory)
    region.fill(0xAB, at: 0, count: 256)
    try region.msync()
    region.fill(0xCD, at: 0, count: 8192)
    try region.discard()
    region.withUnsafeBytes { bytes in
      #expect(bytes[0..<256].allSatisfy { $0 == 0xAB })
      #expect(bytes[256..<8192].allSatisfy { $0 == 0 })
    }
  }

  @Test func missingLogIsReported() throws {
    let directory = TestDirectory(onDisk: true)
    let (path, region) = try fileRegion(directory)
    try region.close()
    try FileManager.default.removeItem(atPath: path.string + "-log")
    #expect(throws: SnapshotError.logMissing(path: path.string + "-log")) { try Region.open(at: path) }
  }

  @Test func corruptOrForeignLogIsReported() throws {
    let directory = TestDirectory(onDisk: true)
    let (path, region) = try fileRegion(directory)
    try region.close()
    let logPath = FilePath(path.string + "-log")
    var log = try Data(contentsOf: logPath)
    log[30] ^= 0x04
    try log.write(to: logPath)
    let error = #expect(throws: SnapshotError.self) { try Region.open(at: path) }
    guard case .logCorrupt(_, let reason)? = error else {
      Issue.record("expected logCorrupt, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("checksum"))

    let other = directory.file("other")
    try Region.create(at: other, size: 64 << 10, options: .init(backing: .file)).close()
    try Data(contentsOf: FilePath(other.string + "-log")).write(to: logPath)
    let foreign = #expect(throws: SnapshotError.self) { try Region.open(at: path) }
    guard case .logCorrupt(_, let foreignReason)? = foreign else {
      Issue.record("expected logCorrupt, got \(String(describing: foreign))")
      return
    }
    #expect(foreignReason.contains("another region"))
  }

  /// A small threshold makes msync checkpoint often; the log never holds more than it plus a batch.
  @Test func checkpointThresholdIsHonoured() throws {
    let directory = TestDirectory(onDisk: true)
    let (path, region) = try fileRegion(directory)
    // The default: 16 MiB, or the log's resting size (here a commit of every line) if smaller.
    #expect(region.checkpointThreshold == min(16 << 20, RedoJournalLayout.logSize(lineCount: region.size / 64)))
    region.checkpointThreshold = 1024
    for round in 0..<40 {
      region.fill(UInt8(round), at: 64 * round, count: 200)
      try region.msync()
    }
    let crashed = directory.file("crashed")
    try Data(contentsOf: path).write(to: crashed)
    try Data(contentsOf: FilePath(path.string + "-log")).write(to: FilePath(crashed.string + "-log"))
    let info = try Region.inspect(at: crashed)
    #expect(info.epoch == 40)
    #expect((info.checkpointEpoch ?? 0) >= 30, "checkpoint at epoch \(String(describing: info.checkpointEpoch))")
    guard case .replayed(let commits, _) = info.pendingRecovery else {
      Issue.record("expected batches to replay, got \(info.pendingRecovery)")
      return
    }
    #expect(commits <= 10)
    let memory = TestDirectory()
    let undo = try Region.create(at: memory.file("undo"), size: 4096, options: .init(backing: .persistentMemory, journal: .undo))
    #expect(undo.checkpointThreshold == nil)
  }

  @Test func fileRegionsUseTheRedoJournal() throws {
    let directory = TestDirectory(onDisk: true)
    #expect(throws: SnapshotError.self) {
      try Region.create(at: directory.file("region"), size: 4096, options: .init(backing: .file, journal: .undo))
    }
  }

  /// A failed fdatasync poisons the handle: every later commit throws; reopening recovers the last
  /// acknowledged commit.
  @Test func failedSyncPoisonsTheHandle() throws {
    let directory = TestDirectory(onDisk: true)
    let path = directory.file("region")
    let failing = FailingFileMedium.State()
    let region = try Region.create(at: path, size: 8192, files: { FailingFileMedium(storage: FileStorage(data: $0, log: $1), state: failing) })
    region.store(UInt64(1), at: 0)
    try region.msync()
    failing.failSync.store(true, ordering: .relaxed)
    region.store(UInt64(2), at: 0)
    let error = #expect(throws: SnapshotError.self) { try region.msync() }
    guard case .commitFailed(_, let operation, _)? = error else {
      Issue.record("expected commitFailed, got \(String(describing: error))")
      return
    }
    #expect(operation == "fdatasync")
    failing.failSync.store(false, ordering: .relaxed)
    #expect(throws: error!) { try region.msync() }
    #expect(throws: error!) { try region.checkpoint() }
    #expect(region.load(UInt64.self, at: 0) == 2, "the working copy is untouched")
    region.abandon()
    let reopened = try Region.open(at: path)
    #expect([1, 2].contains(reopened.load(UInt64.self, at: 0)))
    #expect(reopened.epoch == UInt64(reopened.load(UInt64.self, at: 0)))
  }
}

/// A file medium whose syncs can be made to fail, as a disk error would.
struct FailingFileMedium: FileMedium {
  final class State: Sendable {
    let failSync = Atomic(false)
  }

  let storage: FileStorage
  let state: State

  func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, to file: RegionFileRole) throws(Errno) {
    try storage.write(bytes, at: offset, to: file)
  }

  func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, from file: RegionFileRole) throws(Errno) {
    try storage.read(into: buffer, at: offset, from: file)
  }

  func synchronize(_ file: RegionFileRole) throws(Errno) {
    if state.failSync.load(ordering: .relaxed) { throw .ioError }
    try storage.synchronize(file)
  }

  func size(of file: RegionFileRole) throws(Errno) -> Int {
    try storage.size(of: file)
  }

  func resize(_ file: RegionFileRole, to length: Int) throws(Errno) {
    try storage.resize(file, to: length)
  }
}
