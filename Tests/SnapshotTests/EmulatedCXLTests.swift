import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotTestSupport

@Suite struct EmulatedCXLTests {
  /// One set of 8 pages: the least recently used page leaves first.
  @Test func theCacheEvictsTheLeastRecentlyUsedPage() {
    let device = DeviceLatencyModel(cacheBytes: 8 * 4096, missLatency: .zero)
    #expect(device.cacheBytes == 8 * 4096)
    for page in 0..<8 { device.access(offset: page * 4096, count: 1) }
    #expect((device.hits, device.misses) == (0, 8))
    for page in 0..<8 { device.access(offset: page * 4096 + 100, count: 8) }
    #expect((device.hits, device.misses) == (8, 8))

    device.access(offset: 8 * 4096, count: 1)  // evicts page 0
    #expect((device.hits, device.misses) == (8, 9))
    device.access(offset: 1 * 4096, count: 1)
    #expect((device.hits, device.misses) == (9, 9))
    device.access(offset: 0, count: 1)  // evicts page 2, the oldest now
    device.access(offset: 2 * 4096, count: 1)
    #expect((device.hits, device.misses) == (9, 11))
  }

  @Test func anAccessChargesEveryPageItSpans() {
    let device = DeviceLatencyModel(cacheBytes: 64 * 4096, missLatency: .zero)
    device.access(offset: 4000, count: 200)
    #expect(device.misses == 2)
    device.access(offset: 3 * 4096 - 1, count: 4096 + 2)
    #expect(device.misses == 5)
    device.access(offset: 0, count: 0)
    #expect(device.hits + device.misses == 5)
  }

  @Test func aMissWaitsForTheFlash() {
    let device = DeviceLatencyModel(cacheBytes: 8 * 4096, missLatency: .microseconds(200))
    let start = ContinuousClock.now
    for page in 0..<10 { device.access(offset: page * 4096, count: 1) }
    #expect(ContinuousClock.now - start >= .milliseconds(2), "ten misses wait at least ten latencies")
  }

  /// The region's durable writes pay the model; loads and stores of the working copy do not; the file
  /// is an ordinary persistent-memory region afterwards.
  @Test(arguments: Region.Journal.allCases)
  func aRegionChargesItsDurableWrites(journal: Region.Journal) throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let device = DeviceLatencyModel(cacheBytes: 1 << 20, missLatency: .zero)
    let region = try Region.create(at: path, size: 1 << 20, options: .init(journal: journal), emulating: device)
    #expect(device.hits + device.misses == 0)
    for line in 0..<100 { region.store(UInt64(line), at: line * 4096) }
    _ = region.load(UInt64.self, at: 0)
    let beforeCommit = device.hits + device.misses
    #expect(try region.msync() == 1)
    #expect(device.misses > 0)
    #expect(device.hits + device.misses > beforeCommit)
    try region.close()

    let reopened = try Region.open(at: path)
    #expect(reopened.backing == .persistentMemory)
    #expect((0..<100).allSatisfy { reopened.load(UInt64.self, at: $0 * 4096) == UInt64($0) })
    try reopened.close()
  }

  /// Checkpoints on the emulated device write the home copy in address order, elsewhere in batch
  /// order: the same lines with the same newest contents either way, so the files end up identical.
  @Test func aCheckpointInAddressOrderWritesTheSameHomeCopy() throws {
    let directory = TestDirectory()
    let plainPath = directory.file("plain"), emulatedPath = directory.file("emulated")
    let plain = try Region.create(at: plainPath, size: 256 << 10)
    let emulated = try Region.create(
      at: emulatedPath, size: 256 << 10, emulating: DeviceLatencyModel(cacheBytes: 64 << 10, missLatency: .zero))
    var random = SystemRandomNumberGenerator()
    for commit in 0..<200 {
      for _ in 0..<Int.random(in: 1...20, using: &random) {
        let offset = Int.random(in: 0..<(256 << 10) - 8, using: &random)
        plain.store(UInt64(commit), at: offset)
        emulated.store(UInt64(commit), at: offset)
      }
      _ = try plain.msync()
      _ = try emulated.msync()
      if commit % 50 == 49 {
        try plain.checkpoint()
        try emulated.checkpoint()
      }
    }
    try plain.close()
    try emulated.close()
    let plainRegion = try Region.open(at: plainPath), emulatedRegion = try Region.open(at: emulatedPath)
    #expect(plainRegion.withUnsafeBytes { Array($0) } == emulatedRegion.withUnsafeBytes { Array($0) })
    try plainRegion.close()
    try emulatedRegion.close()
  }
}
