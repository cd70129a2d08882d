import Foundation
import SnapshotTestSupport
import SystemPackage
import Testing

@testable import Snapshot

/// The redo log rests small, grows for a commit larger than itself and shrinks back at the next
/// checkpoint; files of the first format, whose log was sized for every line, still open.
@Suite struct LogGrowthTests {
  /// The bytes of the region's files together.
  static func filesSize(_ path: FilePath) throws -> Int {
    let manager = FileManager.default
    let data = try manager.attributesOfItem(atPath: path.string)[.size] as! Int
    let log = (try? manager.attributesOfItem(atPath: path.string + "-log")[.size] as? Int) ?? 0
    return data + log
  }

  @Test(arguments: [Region.Backing.persistentMemory, .file])
  func aCommitLargerThanTheLogGrowsItUntilTheNextCheckpoint(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 1 << 20, options: .init(backing: backing, logSize: 4096))
    let resting = try Self.filesSize(path)
    #expect(resting <= (1 << 20) + 3 * 4096)

    region.fill(0xA5, at: 0, count: 1 << 20)
    try region.msync()
    #expect(try Self.filesSize(path) >= resting + (1 << 20))

    region.store(UInt64(42), at: 64)
    try region.msync()  // does not fit after the large batch: checkpoints, and the log rests again
    #expect(try Self.filesSize(path) == resting)
    region.store(UInt64(43), at: 128)
    try region.msync()
    try region.close()

    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt64.self, at: 64) == 42)
    #expect(reopened.load(UInt64.self, at: 128) == 43)
    #expect(reopened.load(UInt8.self, at: (1 << 20) - 1) == 0xA5)
    try reopened.close()
    #expect(try Self.filesSize(path) == resting)
  }

  /// Reopening after a crash that left a grown log replays its batch, then cuts the log back.
  @Test(arguments: [Region.Backing.persistentMemory, .file])
  func recoveryFromAGrownLogCutsItBack(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 256 << 10, options: .init(backing: backing, logSize: 4096))
    let resting = try Self.filesSize(path)
    region.fill(0x3C, at: 0, count: 256 << 10)
    try region.msync()
    region.abandon()

    let reopened = try Region.open(at: path)
    #expect(reopened.recovery.outcome != .clean)
    #expect(reopened.load(UInt8.self, at: 1000) == 0x3C)
    #expect(try Self.filesSize(path) == resting)
    try reopened.close()
  }

  /// Every line of a 1 GiB region in one commit, with the default log of 64 MiB: the log grows for
  /// it, and a fresh region's file is little larger than its data.
  @Test func aCommitOfEveryLineOfAGibibyte() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let size = 1 << 30
    let region = try Region.create(at: path, size: size, options: .init(backing: .persistentMemory))
    #expect(try Self.filesSize(path) <= size + size / 16 + 4096)
    region.fill(0x77, at: 0, count: size)
    try region.msync()
    try region.close()
    #expect(try Self.filesSize(path) <= size + size / 16 + 4096)
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt8.self, at: 0) == 0x77)
    #expect(reopened.load(UInt8.self, at: size - 1) == 0x77)
    try reopened.close()
  }

  @Test func logSizeOptions() throws {
    let directory = TestDirectory()
    #expect(throws: SnapshotError.invalidOptions(reason: "the undo journal's log is sized for a commit of every line (it logs at the first store to a line, where a full log could not grow); leave out the log size, or choose the redo journal")) {
      try Region.create(at: directory.file("undo"), size: 8192, options: .init(journal: .undo, logSize: 4096))
    }
    #expect(throws: SnapshotError.invalidSize(requested: 0, reason: "a log needs at least one byte")) {
      try Region.create(at: directory.file("zero"), size: 8192, options: .init(logSize: 0))
    }
    // Rounded up to a page, and never beyond what a commit of every line needs.
    let small = try Region.create(at: directory.file("small"), size: 1 << 20, options: .init(logSize: 100))
    try small.close()
    #expect(try Region.inspect(at: directory.file("small")).restingLogSize == 4096)
    let large = try Region.create(at: directory.file("large"), size: 8192, options: .init(logSize: 1 << 30))
    try large.close()
    #expect(try Region.inspect(at: directory.file("large")).restingLogSize == RedoJournalLayout.logSize(lineCount: 128))
    // Emulated CXL memory takes the option too.
    let device = DeviceLatencyModel(cacheBytes: 1 << 20, missLatency: .zero)
    let cxl = try Region.create(at: directory.file("cxl"), size: 1 << 20, options: .init(logSize: 8192), emulating: device)
    try cxl.close()
    #expect(try Region.inspect(at: directory.file("cxl")).restingLogSize == 8192)
  }

  /// A file written by format 1 (the header's version 1: on persistent memory a log for every line, on
  /// a file no log size recorded) opens, commits and recovers as before.
  @Test(arguments: [Region.Backing.persistentMemory, .file])
  func formatOneFilesOpen(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    let path = directory.file("region")
    let lines = (1 << 20) / 64
    let fullLog = RedoJournalLayout.logSize(lineCount: lines)
    let region = try Region.create(at: path, size: 1 << 20, options: .init(backing: backing, logSize: fullLog))
    region.fill(0x11, at: 0, count: 4096)
    try region.msync()
    try region.close()

    var bytes = try Data(contentsOf: path)
    var header = RegionHeader.decodeForTesting(bytes)
    header.version = 1
    if backing == .file { header.logSize = 0 }
    bytes.replaceSubrange(0..<64, with: header.encoded())
    try bytes.write(to: path)

    let info = try Region.inspect(at: path)
    #expect(info.formatVersion == 1)
    #expect(info.restingLogSize == (backing == .file ? min(fullLog, 16 << 20) : fullLog))
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt8.self, at: 4095) == 0x11)
    reopened.fill(0x22, at: 0, count: 1 << 20)
    try reopened.msync()
    try reopened.close()
    #expect(try Region.open(at: path).load(UInt8.self, at: (1 << 20) - 1) == 0x22)
  }

  /// A file of format 3 keeps checksumming its batches' lines with CRC32C, and recovery checks them so:
  /// its batches replay under format 3 and fail their checksum read as format 4 (XXH3).
  @Test(arguments: [Region.Backing.persistentMemory, .file])
  func formatThreeBatchesKeepTheirChecksum(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    let path = directory.file("region")
    try Region.create(at: path, size: 1 << 20, options: .init(backing: backing)).close()
    func setVersion(_ version: UInt32) throws {
      var bytes = try Data(contentsOf: path)
      var header = RegionHeader.decodeForTesting(bytes)
      header.version = version
      bytes.replaceSubrange(0..<64, with: header.encoded())
      try bytes.write(to: path)
    }
    try setVersion(3)
    let region = try Region.open(at: path)
    for value: UInt8 in 1...3 {
      region.fill(value, at: Int(value) * 4096, count: 4096)
      try region.msync()
    }
    region.abandon()  // as a crash would: the batches are still in the log
    let bytes = try Data(contentsOf: path)
    let logFile = backing == .file ? try Data(contentsOf: FilePath(RegionFile.logPath(for: path.string))) : nil

    #expect(try Region.inspect(at: path).formatVersion == 3)
    let recovered = try Region.open(at: path)
    #expect((1...3).allSatisfy { recovered.load(UInt8.self, at: Int($0) * 4096 + 4095) == UInt8($0) })
    recovered.abandon()

    // The same files read as format 4: every batch fails its checksum, as a commit torn by a crash.
    try bytes.write(to: path)
    if let logFile { try logFile.write(to: FilePath(RegionFile.logPath(for: path.string))) }
    try setVersion(4)
    let misread = try Region.open(at: path)
    #expect((1...3).allSatisfy { misread.load(UInt8.self, at: Int($0) * 4096 + 4095) == 0 })
    try misread.close()
  }
}

extension RegionHeader {
  static func decodeForTesting(_ bytes: Data) -> RegionHeader {
    try! decode(Array(bytes.prefix(64)), path: "test")
  }
}
