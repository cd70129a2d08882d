import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotVerification
import SnapshotTestSupport

/// Every kind of bad input from the design's contract: a typed error, an actionable message, and the
/// file left exactly as it was.
@Suite struct BadInputTests {
  /// A closed region with one commit, and its bytes.
  func committedRegion(_ directory: TestDirectory, journal: Region.Journal = .redo) throws -> (FilePath, Data) {
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 8192, options: .init(journal: journal))
    region.fill(0x5A, at: 0, count: 300)
    try region.msync()
    try region.close()
    return (path, try Data(contentsOf: path))
  }

  /// Opens `path` expecting `expected`, and checks that neither open nor inspect changed the file.
  func expectRefusal(_ path: FilePath, _ expected: SnapshotError, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let before = try Data(contentsOf: path)
    #expect(throws: expected, sourceLocation: sourceLocation) { try Region.open(at: path) }
    #expect(throws: expected, sourceLocation: sourceLocation) { try Region.inspect(at: path) }
    #expect(try Data(contentsOf: path) == before, "the file changed", sourceLocation: sourceLocation)
    #expect(!expected.description.isEmpty)
  }

  func patched(_ bytes: Data, at offset: Int, with patch: [UInt8]) -> Data {
    var copy = bytes
    copy.replaceSubrange(offset..<offset + patch.count, with: patch)
    return copy
  }

  @Test func truncatedFile() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    try bytes.prefix(2000).write(to: path)
    try expectRefusal(path, .truncated(path: path.string, size: 2000, expected: 4096))
    try bytes.prefix(bytes.count - 4096).write(to: path)
    try expectRefusal(path, .truncated(path: path.string, size: Int64(bytes.count - 4096), expected: Int64(bytes.count)))
  }

  @Test func emptyFileIsTruncated() throws {
    let directory = TestDirectory()
    let path = directory.file("empty")
    try Data().write(to: path)
    try expectRefusal(path, .truncated(path: path.string, size: 0, expected: 4096))
  }

  @Test func wrongMagic() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    try patched(bytes, at: 0, with: Array("NOTMAGIC".utf8)).write(to: path)
    try expectRefusal(path, .notARegion(path: path.string))
  }

  @Test func someOtherSmallFile() throws {
    let directory = TestDirectory()
    let path = directory.file("notes.txt")
    try Data("shopping list\n".utf8).write(to: path)
    try expectRefusal(path, .notARegion(path: path.string))
  }

  @Test func wrongVersion() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    // A file of another version carries a checksum that holds over its header.
    let next = RegionHeader.formatVersion + 1
    let version = withUnsafeBytes(of: next.littleEndian) { Array($0) }
    var header = patched(bytes, at: 8, with: version).prefix(64)
    header.replaceSubrange(12..<16, with: [0, 0, 0, 0])
    let checksum = Array(header).withUnsafeBytes { CRC32C.checksum($0) }
    try patched(bytes, at: 8, with: version + withUnsafeBytes(of: checksum.littleEndian) { Array($0) }).write(to: path)
    try expectRefusal(path, .unsupportedFormatVersion(path: path.string, found: next, supported: RegionHeader.formatVersion))
  }

  /// The right magic over a garbage header is a damaged header, not a file from another version.
  @Test func garbageHeaderAfterTheMagic() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    var generator = SystemRandomNumberGenerator()
    try patched(bytes, at: 8, with: (8..<64).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: path)
    let error = #expect(throws: SnapshotError.self) { try Region.open(at: path) }
    guard case .headerCorrupt? = error else {
      Issue.record("expected headerCorrupt, got \(String(describing: error))")
      return
    }
  }

  @Test func headerChecksumMismatch() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    var corrupt = bytes
    corrupt[41] ^= 0x10  // a bit of the salt
    try corrupt.write(to: path)
    let error = #expect(throws: SnapshotError.self) { try Region.open(at: path) }
    guard case .headerCorrupt(_, let reason)? = error else {
      Issue.record("expected headerCorrupt, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("checksum"))
    #expect(try Data(contentsOf: path) == corrupt)
  }

  @Test func sizeMismatch() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    try (bytes + Data(count: 4096)).write(to: path)
    try expectRefusal(path, .sizeMismatch(path: path.string, size: Int64(bytes.count + 4096), expected: Int64(bytes.count)))
  }

  @Test func corruptCheckpointWord() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    var corrupt = bytes
    corrupt[RedoJournalLayout.checkpointWord] ^= 0x01
    try corrupt.write(to: path)
    try expectRefusal(path, .logCorrupt(path: path.string, reason: "the checkpoint word fails its check"))
  }

  /// The size the last checkpoint recorded, damaged: refused, not taken for absent (which would let a
  /// damaged size record shrink a grown region without a word). An undo region keeps its own words
  /// there and opens.
  @Test func corruptCheckpointedSize() throws {
    let directory = TestDirectory()
    let (path, bytes) = try committedRegion(directory)
    var corrupt = bytes
    corrupt[SizeRecords.checkpointedSizeOffset + 2] ^= 0x40
    try corrupt.write(to: path)
    try expectRefusal(path, .headerCorrupt(path: path.string, reason: "the size recorded at the last checkpoint fails its check"))

    let undoDirectory = TestDirectory("\(#function)-undo")
    let (undoPath, _) = try committedRegion(undoDirectory, journal: .undo)
    try Region.open(at: undoPath).close()
  }

  /// A redo batch that fails its checksum while the batch committed after it is intact cannot be the
  /// work of a crash: reported, never replayed past.
  @Test func redoBatchChecksumMismatch() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 8192)
    region.store(UInt64(1), at: 0)
    try region.msync()
    region.store(UInt64(2), at: 4096)
    try region.msync()
    let crashed = try Data(contentsOf: path)  // as a crash now would leave it: two batches, no checkpoint
    try region.close()

    let logOffset = 4096 + 8192
    let copy = directory.file("crashed")
    try patched(crashed, at: logOffset + 64 + 3, with: [0xEE]).write(to: copy)
    #expect(throws: SnapshotError.damagedBeforeLaterCommit(path: copy.string, epoch: 1, offset: 0, laterEpoch: 2, laterOffset: 128)) {
      try Region.open(at: copy)
    }

    // Untouched, the same image replays both batches.
    try crashed.write(to: copy)
    let recovered = try Region.open(at: copy)
    #expect(recovered.recovery.outcome == .replayed(commits: 2, lines: 2))
    #expect(recovered.load(UInt64.self, at: 4096) == 2)
    try recovered.close()

    // The last batch failing its checksum looks exactly like a crash during its msync: the commit
    // before it is recovered.
    try patched(crashed, at: logOffset + 128 + 64 + 3, with: [0xEE]).write(to: copy)
    let torn = try Region.open(at: copy)
    #expect(torn.recovery.outcome == .replayed(commits: 1, lines: 1))
    #expect(torn.epoch == 1)
  }

  /// An undo entry that fails its checksum after the home copy began to change cannot be the work of
  /// a crash: reported, never applied.
  @Test func undoEntryChecksumMismatch() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    try Region.create(at: path, size: 8192, options: .init(journal: .undo)).close()
    let initial = Array(try Data(contentsOf: path))
    let trace = Trace()
    let region = try TracingPersistentMemory.open(at: path, trace: trace)
    region.store(UInt64(7), at: 0)
    region.store(UInt64(8), at: 640)
    try region.msync()
    try region.close()

    // Crash right after the second fence: the log is active and the home copy holds the new lines.
    var model = PersistentMemoryCrashModel(initialImage: initial)
    var fences = 0
    for event in trace.events where fences < 2 {
      model.apply(event)
      if event == .fence { fences += 1 }
    }
    let image = model.image(Dictionary(uniqueKeysWithValues: model.uncertainUnits.map { ($0.unit, 1) })).data
    let copy = directory.file("crashed")
    try Data(image).write(to: copy)
    let rolledBack = try Region.open(at: copy)
    #expect(rolledBack.recovery.outcome == .rolledBack(lines: 2))
    #expect(rolledBack.load(UInt64.self, at: 640) == 0)
    try rolledBack.close()

    let images = 4096 + 8192 + UndoJournalLayout.metadataSize(lineCount: 128)
    var corrupt = image
    corrupt[images + 64 + 9] ^= 0x40  // the second entry's image
    try Data(corrupt).write(to: copy)
    let error = #expect(throws: SnapshotError.self) { try Region.open(at: copy) }
    guard case .logCorrupt(_, let reason)? = error else {
      Issue.record("expected logCorrupt, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("undo entry 1"))
    #expect(Array(try Data(contentsOf: copy)) == corrupt)
  }

  @Test func secondOpenerInTheSameProcess() throws {
    let directory = TestDirectory()
    let (path, _) = try committedRegion(directory)
    let region = try Region.open(at: path)
    #expect(throws: SnapshotError.locked(path: path.string)) { try Region.open(at: path) }
    #expect(throws: SnapshotError.locked(path: path.string)) { try Region.inspect(at: path) }
    try region.close()
    try Region.open(at: path).close()
  }

  @Test func secondOpenerInAnotherProcess() throws {
    let directory = TestDirectory()
    let (path, _) = try committedRegion(directory)
    let region = try Region.open(at: path)
    let result = try runSnapshot(["recover", path.string])
    #expect(result.status == 1)
    #expect(result.standardError.contains("in use"), "\(result.standardError)")
    try region.close()
    #expect(try runSnapshot(["recover", path.string]).status == 0)
  }

  @Test func readOnlyFile() throws {
    let directory = TestDirectory()
    let (path, _) = try committedRegion(directory)
    try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path.string)
    try expectRefusalToWrite(path)
    #expect(try Region.inspect(at: path).epoch == 1, "a read-only region can still be inspected")
  }

  func expectRefusalToWrite(_ path: FilePath) throws {
    let before = try Data(contentsOf: path)
    #expect(throws: SnapshotError.readOnly(path: path.string)) { try Region.open(at: path) }
    #expect(try Data(contentsOf: path) == before)
  }

  @Test func persistentMemoryOnAFileSystemThatIsNotPersistentMemory() throws {
    let directory = FileManager.default.temporaryDirectory.path
    let kind = FileSystemKind.of(directory: directory)
    try #require(kind != nil)
    guard kind?.type != "tmpfs", kind?.isDirectAccess == false else { return }
    let path = FilePath("\(directory)/snapshot-test-\(getpid()).region")
    let error = #expect(throws: SnapshotError.self) {
      try Region.create(at: path, size: 4096, options: .init(backing: .persistentMemory))
    }
    guard case .mediumUnsupported(_, let reason)? = error else {
      Issue.record("expected mediumUnsupported, got \(String(describing: error))")
      return
    }
    #expect(reason.contains(kind!.type))
    #expect(!FileManager.default.fileExists(atPath: path.string))
  }

}

/// Tests that mount small file systems: they need root, and are skipped with a message otherwise.
@Suite(.serialized) struct MountedFileSystemTests {
  static let canMount: Bool = {
    guard getuid() == 0 else { return false }
    let probe = TestDirectory("probe")
    defer { _ = runCommand("/bin/umount", [probe.path]) }
    return runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe.path]) == 0
  }()

  @Test func noSpaceAtCreation() throws {
    guard Self.canMount else {
      print("skipped: mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
      return
    }
    let directory = TestDirectory()
    #expect(runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", directory.path]) == 0)
    defer { _ = runCommand("/bin/umount", [directory.path]) }
    let path = directory.file("big")
    let error = #expect(throws: SnapshotError.self) { try Region.create(at: path, size: 4 << 20) }
    guard case .noSpace(_, let needed)? = error else {
      Issue.record("expected noSpace, got \(String(describing: error))")
      return
    }
    #expect(needed > 4 << 20)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty, "nothing is left behind")
    try Region.create(at: path, size: 64 << 10).close()  // what fits still works
  }

  @Test func readOnlyFileSystem() throws {
    guard Self.canMount else {
      print("skipped: mounting a read-only tmpfs needs root (CAP_SYS_ADMIN)")
      return
    }
    let directory = TestDirectory()
    #expect(runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", directory.path]) == 0)
    defer { _ = runCommand("/bin/umount", [directory.path]) }
    let path = directory.file("region")
    try Region.create(at: path, size: 4096).close()
    #expect(runCommand("/bin/mount", ["-o", "remount,ro", directory.path]) == 0)
    #expect(throws: SnapshotError.readOnly(path: path.string)) { try Region.open(at: path) }
    #expect(throws: SnapshotError.readOnly(path: directory.file("other").string)) {
      try Region.create(at: directory.file("other"), size: 4096)
    }
    #expect(try Region.inspect(at: path).epoch == 0)
  }
}

extension MountedFileSystemTests {
  /// A commit larger than the log written ahead must grow it; when the file system is full, msync
  /// throws, and both the last commit and the working copy stay usable: msync succeeds once there is
  /// room again.
  /// With threads sharing the region, the failure comes after the lines were read and changes could
  /// resume: the lines are marked changed again.
  @Test(arguments: Region.Threads.allCases)
  func noSpaceDuringMsyncOnAFile(threads: Region.Threads) throws {
    guard Self.canMount else {
      print("skipped: mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
      return
    }
    let directory = TestDirectory()
    #expect(runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=40m", "tmpfs", directory.path]) == 0)
    defer { _ = runCommand("/bin/umount", [directory.path]) }
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 20 << 20, options: .init(backing: .file, threads: threads))
    region.store(UInt64(1), at: 0)
    try region.msync()
    let filler = directory.file("filler")
    #expect(runCommand("/usr/bin/fallocate", ["-l", "3m", filler.string]) == 0)
    region.fill(0x77, at: 0, count: 18 << 20)
    let error = #expect(throws: SnapshotError.self) { try region.msync() }
    guard case .noSpace? = error else {
      Issue.record("expected noSpace, got \(String(describing: error))")
      return
    }
    #expect(region.dirtyLineCount == (18 << 20) / 64, "the changes are still pending")
    #expect(region.load(UInt8.self, at: (18 << 20) - 1) == 0x77)
    try FileManager.default.removeItem(atPath: filler.string)
    #expect(try region.msync() == 2)
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt8.self, at: (18 << 20) - 1) == 0x77)
  }
}
