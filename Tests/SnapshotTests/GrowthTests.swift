import Foundation
import SnapshotTestSupport
import SnapshotVerification
import SystemPackage
import Testing

@testable import Snapshot

/// Regions that grow: the working copy stays where it is, the new bytes read as zeros, and the new
/// size becomes durable with the next msync, or not at all.
@Suite struct GrowthTests {
  static let media: [Region.Backing] = [.persistentMemory, .file]

  func create(_ directory: TestDirectory, _ backing: Region.Backing, size: Int = 16 << 10, options: Region.CreateOptions = .init()) throws -> (Region, FilePath) {
    let path = directory.file("region")
    var options = options
    options.backing = backing
    return (try Region.create(at: path, size: size, options: options), path)
  }

  @Test(arguments: media)
  func aGrownRegionKeepsItsDataAndItsAddresses(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    let (region, path) = try create(directory, backing, options: .init(logSize: 4096))
    let counter = region.pointer(to: UInt64.self, at: 8)
    counter.pointee = 7
    try region.msync()
    let base = region.withUnsafeBytes { $0.baseAddress }

    try region.grow(to: 100_000)
    #expect(region.size == 102_400)
    #expect(region.withUnsafeBytes { $0.baseAddress } == base)
    #expect(region.withUnsafeBytes { $0[16 << 10..<102_400].allSatisfy { $0 == 0 } })
    counter.pointee += 1
    region.store(UInt64(99), at: 102_400 - 8)
    try region.msync()
    try region.close()

    let reopened = try Region.open(at: path)
    #expect(reopened.size == 102_400)
    #expect(reopened.load(UInt64.self, at: 8) == 8)
    #expect(reopened.load(UInt64.self, at: 102_400 - 8) == 99)
    #expect(reopened.withUnsafeBytes { $0[16 << 10..<102_400 - 8].allSatisfy { $0 == 0 } })
    try reopened.close()
    #expect(try Region.inspect(at: path).size == 102_400)
  }

  /// The stale log bytes the data takes over read as zeros; a grow with nothing else changed still
  /// commits; growing several times alternates the size records.
  @Test(arguments: media)
  func repeatedGrowsCommitAndReopen(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    var (region, path) = try create(directory, backing, options: .init(logSize: 8192))
    region.fill(0xEE, at: 0, count: region.size)
    try region.msync()
    var size = region.size
    for round in 1...4 {
      size *= 2
      try region.grow(to: size)
      #expect(region.hasChanges)
      let epoch = region.epoch
      try region.msync()
      #expect(region.epoch == epoch + 1)
      if round % 2 == 0 {
        region.abandon()  // as a crash would: the next open replays the grow's batch
      } else {
        try region.close()
      }
      region = try Region.open(at: path)
      #expect(region.size == size)
      #expect(region.withUnsafeBytes { $0[size / 2..<size].allSatisfy { $0 == 0 } })
      #expect(region.load(UInt8.self, at: 100) == 0xEE)
    }
    try region.close()
  }

  @Test(arguments: media)
  func aGrowNotCommittedIsForgotten(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    let (region, path) = try create(directory, backing)
    try region.grow(to: 64 << 10)
    region.store(UInt32(5), at: 60 << 10)
    region.abandon()
    let reopened = try Region.open(at: path)
    #expect(reopened.size == 16 << 10)
    try reopened.close()
  }

  @Test(arguments: media)
  func discardTakesAGrowBack(backing: Region.Backing) throws {
    let directory = TestDirectory(onDisk: backing == .file)
    let (region, path) = try create(directory, backing)
    region.store(UInt32(1), at: 0)
    try region.msync()
    try region.grow(to: 32 << 10)
    region.store(UInt32(2), at: 0)
    region.store(UInt32(3), at: 20 << 10)
    try region.discard()
    #expect(region.size == 16 << 10)
    #expect(region.load(UInt32.self, at: 0) == 1)
    #expect(!region.hasChanges)
    try region.grow(to: 32 << 10)
    #expect(region.load(UInt32.self, at: 20 << 10) == 0)
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.size == 32 << 10)
    #expect(reopened.load(UInt32.self, at: 20 << 10) == 0)
    try reopened.close()
  }

  @Test func growingPastTheMaximumIsRefused() throws {
    let directory = TestDirectory()
    let (region, path) = try create(directory, .persistentMemory, options: .init(maximumSize: 64 << 10))
    #expect(region.maximumSize == 64 << 10)
    #expect(throws: SnapshotError.maximumSizeReached(path: path.string, requested: 128 << 10, maximum: 64 << 10)) {
      try region.grow(to: 128 << 10)
    }
    try region.grow(to: 64 << 10)
    try region.msync()
    try region.close()
    // A later handle never has a maximum below the region's size, and may choose a larger one.
    let reopened = try Region.open(at: path, maximumSize: 4096)
    #expect(reopened.maximumSize == 64 << 10)
    try reopened.close()
    let larger = try Region.open(at: path, maximumSize: 1 << 20)
    try larger.grow(to: 1 << 20)
    try larger.msync()
    try larger.close()
  }

  @Test func undoRegionsKeepTheirSize() throws {
    let directory = TestDirectory()
    let (region, _) = try create(directory, .persistentMemory, options: .init(journal: .undo))
    #expect(!region.canGrow)
    #expect(region.maximumSize == region.size)
    #expect(throws: SnapshotError.self) { try region.grow(to: 1 << 20) }
    try region.close()
  }

  @Test func pageTrackingSeesWritesToTheNewPages() throws {
    let directory = TestDirectory()
    let (region, path) = try create(directory, .persistentMemory, options: .init(tracking: .pages))
    try region.grow(to: 64 << 10)
    region.withUnsafeMutableBytes { bytes in bytes[40 << 10] = 0x77 }
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt8.self, at: 40 << 10) == 0x77)
    try reopened.close()
  }

  @Test func threadsStoreIntoTheGrownRegion() async throws {
    let directory = TestDirectory()
    let (region, path) = try create(directory, .persistentMemory, options: .init(threads: .many))
    try region.grow(to: 1 << 20)
    await withTaskGroup(of: Void.self) { group in
      for thread in 0..<4 {
        group.addTask {
          for index in 0..<256 {
            region.change { region.store(UInt64(index), at: (thread * 256 + index) * 1024) }
          }
        }
      }
    }
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt64.self, at: (3 * 256 + 255) * 1024) == 255)
    try reopened.close()
  }

  /// A grow commits on persistent memory in time proportional to the new bytes; a full commit of the
  /// grown region works with the default log.
  @Test func aGrowToAMebibyteCommitsEveryLine() throws {
    let directory = TestDirectory()
    let (region, path) = try create(directory, .persistentMemory, size: 4096)
    try region.grow(to: 1 << 20)
    region.fill(0x11, at: 0, count: 1 << 20)
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.withUnsafeBytes { $0.allSatisfy { $0 == 0x11 } })
    try reopened.close()
  }
}

/// The crash simulator on the growth workload, in a debug build, on both media.
@Suite struct GrowthCrashSimulationTests {
  @Test(arguments: [Workload.Configuration(.persistentMemory, .redo), Workload.Configuration(.file, .redo)])
  func everyCrashImageRecoversToOneSizeAndItsCommit(configuration: Workload.Configuration) throws {
    let directory = TestDirectory(onDisk: configuration.backing == .file)
    let scenario = try Workload.regionGrowth(rounds: 5).record(configuration, seed: 7, path: "\(directory.path)/region")
    #expect(scenario.failures.isEmpty, "\(scenario.failures)")
    let report = CrashSimulator(scenario: scenario, options: .init(), scratchDirectory: directory.path).run()
    #expect(report.failures.isEmpty, "\(report.failures.prefix(3))")
    #expect(report.imagesDistinct > 100)
    #expect(report.commitsAfterRecovery > 10)
  }
}
