import Foundation
import SystemPackage
import Testing
@testable import Snapshot

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
    region.discard()
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
