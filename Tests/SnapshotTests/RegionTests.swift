import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotVerification
import SnapshotTestSupport

@Suite struct RegionTests {
  @Test(arguments: Region.Journal.allCases)
  func committedChangesSurviveReopen(journal: Region.Journal) throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 64 << 10, options: .init(journal: journal))
    #expect(region.size == 64 << 10)
    #expect(region.epoch == 0)
    region.store(UInt64(42), at: 0)
    region.store(UInt32(7), at: 4093)
    #expect(try region.msync() == 1)
    region.store(UInt64(99), at: 0)
    try region.close()

    let reopened = try Region.open(at: path)
    #expect(reopened.recovery.outcome == .clean)
    #expect(reopened.epoch == 1)
    #expect(reopened.load(UInt64.self, at: 0) == 42, "the uncommitted store is not durable")
    #expect(reopened.load(UInt32.self, at: 4093) == 7)
    #expect(reopened.journalKind == journal)
    try reopened.close()
  }

  @Test(arguments: Region.Journal.allCases)
  func msyncWithoutChangesKeepsTheEpoch(journal: Region.Journal) throws {
    let directory = TestDirectory()
    let region = try Region.create(at: directory.file("region"), size: 4096, options: .init(journal: journal))
    #expect(try region.msync() == 0)
    region.store(UInt8(1), at: 5)
    #expect(try region.msync() == 1)
    #expect(try region.msync() == 1)
  }

  @Test(arguments: Region.Journal.allCases)
  func discardRestoresTheLastCommit(journal: Region.Journal) throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 8192, options: .init(journal: journal))
    region.fill(0xAB, at: 100, count: 300)
    try region.msync()
    region.fill(0xCD, at: 0, count: 8192)
    region.store(UInt64.max, at: 8184)
    try region.discard()
    #expect(region.dirtyLineCount == 0)
    region.withUnsafeBytes { bytes in
      #expect(bytes[0..<100].allSatisfy { $0 == 0 })
      #expect(bytes[100..<400].allSatisfy { $0 == 0xAB })
      #expect(bytes[400...].allSatisfy { $0 == 0 })
    }
    // Changes after a discard commit normally.
    region.store(UInt16(5), at: 63)
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt16.self, at: 63) == 5)
    #expect(reopened.load(UInt8.self, at: 100) == 0xAB)
    #expect(reopened.load(UInt8.self, at: 8184) == 0)
  }

  @Test func createRefusesAnExistingFile() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    try Region.create(at: path, size: 4096).close()
    #expect(throws: SnapshotError.fileExists(path: path.string)) {
      try Region.create(at: path, size: 4096)
    }
  }

  @Test func sizeIsRoundedUpToPages() throws {
    let directory = TestDirectory()
    let region = try Region.create(at: directory.file("region"), size: 1000)
    #expect(region.size == 4096)
    #expect(throws: SnapshotError.self) { try Region.create(at: directory.file("zero"), size: 0) }
  }

  @Test func msyncAfterCloseThrows() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 4096)
    try region.close()
    try region.close()
    #expect(throws: SnapshotError.closed(path: path.string)) { try region.msync() }
  }
}

@Suite struct ReadmeExampleTests {
  struct Account { var id: UInt64; var balance: Int64 }

  /// The README's usage example, as written there but for the directory.
  @Test func readmeExampleWorks() throws {
    let directory = TestDirectory()
    let path = directory.file("bank.region")
    let region = try Region.create(at: path, size: 64 << 20)
    let from = region.pointer(to: Account.self, at: 0)
    let to = region.pointer(to: Account.self, at: 4096)
    from.balance = 100
    #expect(try region.msync() == 1)
    from.balance -= 30
    to.balance += 30
    #expect(try region.msync() == 2)
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.pointer(to: Account.self, at: 4096).balance == 30)
    #expect(reopened.pointer(to: Account.self, at: 0).balance == 70)
  }
}

/// Random stores, msyncs, discards, checkpoints and reopens against a plain byte array as the model,
/// on every medium and journal.
@Suite struct RegionModelTests {
  @Test(arguments: Workload.Configuration.all)
  func randomOperationsMatchTheModel(configuration: Workload.Configuration) throws {
    let directory = TestDirectory(onDisk: configuration.backing == .file)
    let path = directory.file("region")
    var region = try Region.create(
      at: path, size: 8192, options: .init(backing: configuration.backing, journal: configuration.journal))
    var committed = [UInt8](repeating: 0, count: 8192)
    var working = committed
    var generator = SeededGenerator(seed: 99)
    for step in 0..<2000 {
      switch Int.random(in: 0..<100, using: &generator) {
      case 0..<70:
        let count = Int.random(in: 1...100, using: &generator)
        let offset = Int.random(in: 0...(8192 - count), using: &generator)
        let byte = UInt8.random(in: 0...255, using: &generator)
        region.fill(byte, at: offset, count: count)
        working.replaceSubrange(offset..<offset + count, with: repeatElement(byte, count: count))
      case 70..<88:
        try region.msync()
        committed = working
      case 88..<95:
        try region.discard()
        working = committed
      case 95..<97:
        try region.checkpoint()
      default:
        try region.close()
        region = try Region.open(at: path)
        working = committed
      }
      let actual = region.withUnsafeBytes { Array($0) }
      if let offset = actual.indices.first(where: { actual[$0] != working[$0] }) {
        Issue.record("step \(step): byte \(offset) is \(actual[offset]), the model says \(working[offset])")
        return
      }
      region._changes.lines._checkInvariants(lineCount: 128)
    }
  }
}

@Suite struct CheckpointTests {
  /// After an explicit checkpoint, a crash leaves nothing to replay: the home copy is current.
  @Test(arguments: Region.Journal.allCases)
  func checkpointLeavesNothingToRecover(journal: Region.Journal) throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 8192, options: .init(journal: journal))
    for round in 0..<5 {
      region.store(UInt64(round), at: 64 * round)
      try region.msync()
    }
    try region.checkpoint()
    let crashed = directory.file("crashed")
    try Data(contentsOf: path).write(to: crashed)  // as a crash now would leave the file
    try region.close()
    let recovered = try Region.open(at: crashed)
    #expect(recovered.recovery.outcome == .clean)
    #expect(recovered.epoch == 5)
    #expect(recovered.load(UInt64.self, at: 64 * 4) == 4)
  }

  /// Without one, the redo journal's crash image holds the commits in its log only.
  @Test func redoCommitsLiveInTheLogUntilACheckpoint() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 8192)
    region.store(UInt64(7), at: 0)
    try region.msync()
    let image = try Data(contentsOf: path)
    #expect(image[4096] == 0, "the home copy is written at checkpoints, not at msync")
    let crashed = directory.file("crashed")
    try image.write(to: crashed)
    let recovered = try Region.open(at: crashed)
    #expect(recovered.recovery.outcome == .replayed(commits: 1, lines: 1))
    #expect(recovered.load(UInt64.self, at: 0) == 7)
    try region.close()
    #expect(try Data(contentsOf: path)[4096] == 7, "close checkpoints")
  }
}

extension CheckpointTests {
  /// A batch of many runs has a head of many lines, larger than any before (the journal composes
  /// heads in a buffer that grows for it); a crash after it and after a small batch that follows
  /// replays both.
  @Test func aBatchWithAHeadOfManyLinesIsReplayed() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 1 << 20)
    // Every other line: 3,000 runs, a head of 24 KiB.
    for run in 0..<3000 { region.store(UInt64(run + 1), at: run * 128) }
    try region.msync()
    region.store(UInt64(99), at: 64)
    try region.msync()
    let crashed = directory.file("crashed")
    try Data(contentsOf: path).write(to: crashed)
    try region.close()
    let recovered = try Region.open(at: crashed)
    #expect(recovered.recovery.outcome == .replayed(commits: 2, lines: 3001))
    #expect(recovered.load(UInt64.self, at: 0) == 1)
    #expect(recovered.load(UInt64.self, at: 64) == 99)
    #expect(recovered.load(UInt64.self, at: 2999 * 128) == 3000)
    #expect(recovered.load(UInt64.self, at: 2999 * 128 + 64) == 0)
  }
}

/// Every cache-line write-back instruction the processor offers commits correctly, so that the
/// fallback order clwb, clflushopt, clflush is not only the path of older machines.
@Suite struct FlushInstructionTests {
  static var available: [CacheLineFlushInstruction] {
    let order: [CacheLineFlushInstruction] = [.clwb, .clflushopt, .clflush]
    guard let best = order.firstIndex(of: CPUFeatures.current.flushInstruction) else { return [.none] }
    return Array(order[best...])
  }

  @Test(arguments: available)
  func commitsWithEachFlushInstruction(instruction: CacheLineFlushInstruction) throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 8192, options: .init()) { file in
      PersistentMemory(file: file, flushInstruction: instruction)
    }
    region.fill(0x42, at: 100, count: 500)
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt8.self, at: 599) == 0x42)
    #expect(reopened.load(UInt8.self, at: 600) == 0)
  }
}

/// Every way of streaming a line the processor offers commits correctly: the batch's lines and head go
/// to the log by streaming, and the checkpoint at close streams them home from there, so a line
/// streamed wrong would come back wrong.
@Suite struct StreamInstructionTests {
  @Test(arguments: CPUFeatures.current.streamInstructions)
  func commitsWithEachStreamInstruction(instruction: LineStreamInstruction) throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 8192, options: .init()) { file in
      PersistentMemory(file: file, streamInstruction: instruction)
    }
    for line in 0..<100 {
      region.store(UInt64(line) &* 0x9E37_79B9_7F4A_7C15, at: line * 64 + (line % 8) * 8)
    }
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    for line in 0..<100 {
      #expect(reopened.load(UInt64.self, at: line * 64 + (line % 8) * 8) == UInt64(line) &* 0x9E37_79B9_7F4A_7C15)
    }
    #expect(reopened.load(UInt64.self, at: 100 * 64) == 0)
  }
}

@Suite struct WriteAccountingTests {
  /// One 8-byte store: the redo batch is a header line and a data line; the checkpoint writes the line
  /// home and the checkpoint word. The undo journal logs the old line with its record, then copies home.
  @Test func bytesWrittenCountsLogAndHome() throws {
    let directory = TestDirectory()
    let redo = try Region.create(at: directory.file("redo"), size: 8192, options: .init(backing: .persistentMemory))
    redo.store(UInt64(1), at: 100)
    try redo.msync()
    #expect(redo.bytesWritten == 128)
    try redo.checkpoint()
    #expect(redo.bytesWritten == 128 + 64 + 8)

    let undo = try Region.create(
      at: directory.file("undo"), size: 8192, options: .init(backing: .persistentMemory, journal: .undo))
    undo.store(UInt64(1), at: 100)
    #expect(undo.bytesWritten == 80)
    try undo.msync()
    #expect(undo.bytesWritten == 80 + 24 + 64 + 8)

    let pages = try Region.create(
      at: directory.file("pages"), size: 8192, options: .init(backing: .persistentMemory, tracking: .pages))
    pages.store(UInt64(1), at: 100)
    try pages.msync()
    #expect(pages.bytesWritten == 64 + 4096, "a whole page: its 64 lines in one run")
  }
}
