import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotVerification
import SnapshotTestSupport

/// Page-granular tracking: any code, C libraries included, may write the working copy.
@Suite struct PageTrackingTests {
  @Test(arguments: Workload.Configuration.all)
  func libcWritesAreCommitted(configuration: Workload.Configuration) throws {
    let directory = TestDirectory(onDisk: configuration.backing == .file)
    let path = directory.file("region")
    let region = try Region.create(
      at: path, size: 64 << 10,
      options: .init(backing: configuration.backing, journal: configuration.journal, tracking: .pages))
    #expect(region.tracking == .pages)
    #expect(!region.hasChanges)
    region.withUnsafeMutableBytes { bytes in
      _ = memset(bytes.baseAddress! + 100, 7, 5000)
      let numbers = (bytes.baseAddress! + 32768).assumingMemoryBound(to: UInt32.self)
      for index in 0..<1000 { numbers[index] = UInt32((index * 7919) % 1000) }
      qsort(numbers, 1000, 4) { a, b in
        let x = a!.load(as: UInt32.self)
        let y = b!.load(as: UInt32.self)
        return x < y ? -1 : x > y ? 1 : 0
      }
    }
    #expect(region.hasChanges)
    #expect(try region.msync() == 1)
    #expect(!region.hasChanges)
    // Re-armed: the next direct write is tracked again.
    region.withUnsafeMutableBytes { $0[60000] = 42 }
    #expect(region.hasChanges)
    try region.discard()
    #expect(region.load(UInt8.self, at: 60000) == 0)
    try region.close()

    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt8.self, at: 5099) == 7)
    #expect(reopened.load(UInt8.self, at: 5100) == 0)
    let sorted = (0..<1000).map { reopened.load(UInt32.self, at: 32768 + 4 * $0) }
    #expect(sorted == (0..<1000).map { UInt32($0) })
  }

  /// Past the budget of pages made writable one by one, whole chunks are: the number of mappings
  /// stays small however many pages are written, and every written page is still recorded.
  @Test func manyRandomPagesStayWithinTheMappingLimit() throws {
    let length = 64 << 20
    let memory = try MemoryMapping.anonymous(length: length)
    defer { memory.unmap() }
    memory.base.initializeMemory(as: UInt8.self, repeating: 0, count: length)  // as a working copy is, filled
    let tracker = try PageTracker(base: memory.base, length: length, isolatedBudget: 200, chunkPages: 64)
    var generator = SeededGenerator(seed: 3)
    let pages = (0..<6000).map { _ in Int.random(in: 0..<(length / 4096), using: &generator) }
    for page in pages { memory.base.storeBytes(of: UInt8(1), toByteOffset: page * 4096 + 5, as: UInt8.self) }
    let recorded = Set(tracker.dirtyPages.map(Int.init))
    #expect(Set(pages).isSubset(of: recorded))
    #expect(mappingCount(in: memory) < 1000, "\(mappingCount(in: memory)) mappings")
    try tracker.rearm()
    #expect(tracker.dirtyPages.isEmpty)
    #expect(mappingCount(in: memory) == 1)
    memory.base.storeBytes(of: UInt8(2), toByteOffset: 4096 * 77, as: UInt8.self)
    #expect(Array(tracker.dirtyPages) == [77])
  }

  /// A fault that is not a tracked write still reaches the handler that was there before.
  @Test func otherFaultsAreStillFatal() async {
    await #expect(processExitsWith: .signal(SIGSEGV)) {
      let memory = try MemoryMapping.anonymous(length: 1 << 20)
      _ = try PageTracker(base: memory.base, length: 1 << 20)
      let readOnly = mmap(nil, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
      readOnly.storeBytes(of: UInt8(1), as: UInt8.self)
    }
  }

  /// The number of mappings (lines of /proc/self/maps) that overlap `memory`.
  func mappingCount(in memory: MemoryMapping) -> Int {
    let start = UInt(bitPattern: memory.base)
    let end = start + UInt(memory.length)
    let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
    return maps.split(separator: "\n").filter { line in
      let range = line.split(separator: " ")[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
      return range.count == 2 && range[0] < end && range[1] > start
    }.count
  }
}
