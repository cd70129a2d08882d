import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotKV
import SnapshotVerification
import SnapshotTestSupport

@Suite struct HeapTests {
  func heap(size: Int = 32 << 20) throws -> (Heap<PlainMemory>, UnsafeMutableRawPointer) {
    let base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    let heap = Heap(memory: PlainMemory(base: base, size: size), offset: 64)
    heap.format()
    return (heap, base)
  }

  @Test func allocateFreeReuse() throws {
    let (heap, base) = try heap()
    defer { base.deallocate() }
    var generator = SeededGenerator(seed: 1)
    var live: [Int: Int] = [:]
    for _ in 0..<5000 {
      if live.isEmpty || Bool.random(using: &generator) {
        let size = Bool.random(using: &generator) ? Int.random(in: 0...300, using: &generator) : Int.random(in: 1...20000, using: &generator)
        let block = try heap.allocate(size)
        #expect(block % 16 == 0 && heap.capacity(of: block) >= size)
        #expect(live[block] == nil, "block \(block) handed out twice")
        live[block] = size
      } else {
        let block = live.keys.randomElement(using: &generator)!
        heap.free(block)
        live[block] = nil
      }
      heap._checkInvariants()
    }
    #expect(heap.statistics.liveAllocations == live.count)
    for block in live.keys { heap.free(block) }
    heap._checkInvariants()
    #expect(heap.statistics.usedBytes == 0)
  }

  @Test func fullHeapThrowsAndChangesNothing() throws {
    let (heap, base) = try heap(size: 64 << 10)
    defer { base.deallocate() }
    _ = try heap.allocate(40 << 10)
    let before = Array(UnsafeRawBufferPointer(start: base, count: 64 << 10))
    #expect(throws: SnapshotError.self) { try heap.allocate(30 << 10) }
    #expect(Array(UnsafeRawBufferPointer(start: base, count: 64 << 10)) == before)
  }
}

@Suite struct KeyValueTests {
  @Test(arguments: [SnapshotKV.Index.ordered, .hashed])
  func randomOperationsMatchADictionary(index: SnapshotKV.Index) throws {
    let directory = TestDirectory()
    let path = directory.file("kv")
    var store = try SnapshotKV.create(at: path, size: 8 << 20, backing: .persistentMemory, index: index, autocommit: false)
    var committed: [[UInt8]: [UInt8]] = [:]
    var working = committed
    var generator = SeededGenerator(seed: 42)
    func randomKey() -> [UInt8] {
      let length = Int.random(in: 0...24, using: &generator)
      return (0..<length).map { _ in UInt8.random(in: 97...102, using: &generator) }
    }
    for step in 0..<6000 {
      switch Int.random(in: 0..<100, using: &generator) {
      case 0..<45:
        let key = randomKey()
        let value = (0..<Int.random(in: 0...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try store.put(key, value)
        working[key] = value
      case 45..<70:
        let key = randomKey()
        #expect(try store.get(key) == working[key], "step \(step)")
      case 70..<82:
        let key = randomKey()
        #expect(try store.delete(key) == (working.removeValue(forKey: key) != nil), "step \(step)")
      case 82..<90 where index == .ordered:
        let start = randomKey()
        let expected = working.keys.filter { !$0.lexicographicallyPrecedes(start) }.sorted { $0.lexicographicallyPrecedes($1) }.prefix(7)
        let scanned = try store.scan(from: start, count: 7)
        #expect(scanned.map(\.key) == Array(expected), "step \(step)")
        #expect(scanned.map(\.value) == expected.map { working[$0]! })
      case 90..<95:
        try store.commit()
        committed = working
      case 95..<98:
        try store.rollback()
        working = committed
      default:
        try store.commit()
        committed = working
        try store.close()
        store = try SnapshotKV.open(at: path, autocommit: false)
      }
      #expect(store.count == working.count)
      store._checkInvariants()
    }
  }

  @Test(arguments: [SnapshotKV.Index.ordered, .hashed])
  func largeValuesAndManyKeys(index: SnapshotKV.Index) throws {
    let directory = TestDirectory()
    let store = try SnapshotKV.create(at: directory.file("kv"), size: 64 << 20, backing: .persistentMemory, index: index, autocommit: false)
    let big = (0..<(1 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    try store.put("big".utf8, big)
    for key in 0..<20_000 {
      try store.put(Array("key-\(key)".utf8), withUnsafeBytes(of: UInt64(key)) { Array($0) })
    }
    try store.commit()
    #expect(try store.get("big".utf8) == big)
    #expect(try store.get(Array("key-12345".utf8)) == withUnsafeBytes(of: UInt64(12345)) { Array($0) })
    #expect(store.count == 20_001)
    store._checkInvariants()
    try store.put("big".utf8, [1, 2, 3])
    #expect(try store.get("big".utf8) == [1, 2, 3])
    store._checkInvariants()
  }

  @Test(arguments: [SnapshotKV.Index.ordered, .hashed])
  func overwriteChangesPartOfAValueInPlace(index: SnapshotKV.Index) throws {
    let directory = TestDirectory()
    let path = directory.file("kv")
    let store = try SnapshotKV.create(at: path, size: 1 << 20, backing: .persistentMemory, index: index)
    try store.put("record", String(repeating: "a", count: 1000))
    let written = store.region.bytesWritten
    #expect(try Array("bbb".utf8).withUnsafeBytes { bytes in try Array("record".utf8).withUnsafeBytes { try store.overwrite($0, at: 100, with: bytes) } })
    // One 3-byte change within one line: one line logged, not the whole value.
    #expect(store.region.bytesWritten - written < 256)
    #expect(try store.get("record") == String(repeating: "a", count: 100) + "bbb" + String(repeating: "a", count: 897))
    #expect(try Array("x".utf8).withUnsafeBytes { bytes in try Array("none".utf8).withUnsafeBytes { try store.overwrite($0, at: 0, with: bytes) } } == false)
    #expect(throws: SnapshotError.self) {
      try Array("xx".utf8).withUnsafeBytes { bytes in try Array("record".utf8).withUnsafeBytes { try store.overwrite($0, at: 999, with: bytes) } }
    }
    #expect(store.region.hasChanges == false)
    try store.close()
    #expect(try SnapshotKV.open(at: path).get("record")?.dropFirst(100).prefix(3) == "bbb")
  }

  @Test func aStoreGrowsItsRegionAsItFills() throws {
    let directory = TestDirectory()
    let path = directory.file("kv")
    let store = try SnapshotKV.create(at: path, backing: .persistentMemory, autocommit: true)
    #expect(store.region.size == SnapshotKV.defaultInitialSize)
    let value = [UInt8](repeating: 3, count: 1000)
    for key in 0..<4000 { try store.put(Array("key-\(key)".utf8), value) }
    #expect(store.region.size > 4 << 20)
    // Growth by an eighth: the region stays close to what the heap holds.
    #expect(Double(store.region.size) <= 1.3 * Double(store.statistics.usedBytes) + Double(RegionMemory.smallestGrowth))
    store._checkInvariants()
    let size = store.region.size
    try store.close()
    let reopened = try SnapshotKV.open(at: path)
    #expect(reopened.region.size == size)
    #expect(reopened.count == 4000)
    #expect(try reopened.get(Array("key-3999".utf8)) == value)
    try reopened.close()
  }

  @Test func fullRegionThrowsAndKeepsTheStore() throws {
    let directory = TestDirectory()
    let store = try SnapshotKV.create(
      at: directory.file("kv"), size: 256 << 10, backing: .persistentMemory, maximumSize: 512 << 10, autocommit: true)
    var stored = 0
    let value = [UInt8](repeating: 7, count: 1000)
    while true {
      do {
        try store.put(Array("key-\(stored)".utf8), value)
        stored += 1
      } catch SnapshotError.regionFull {
        break
      }
    }
    #expect(stored > 300)
    #expect(store.region.size == 512 << 10)
    #expect(store.count == stored)
    store._checkInvariants()
    #expect(try store.get(Array("key-\(stored - 1)".utf8)) == value)
  }

  @Test func scanOnAHashedStoreIsRefused() throws {
    let directory = TestDirectory()
    let store = try SnapshotKV.create(at: directory.file("kv"), size: 1 << 20, backing: .persistentMemory, index: .hashed)
    #expect(throws: SnapshotError.self) { try store.scan(from: [], count: 1) }
  }

  /// A heap of the first format (other size classes) is refused by name, not read with the wrong classes.
  @Test func aStoreOfTheFirstHeapFormatIsRefused() throws {
    let directory = TestDirectory()
    let path = directory.file("kv")
    let store = try SnapshotKV.create(at: path, size: 1 << 20, backing: .persistentMemory)
    try store.put("key", "value")
    let heapMagic = 64  // the heap starts at offset 64 of the region
    store.region.store(UInt64(0x3150_4145_4850_4E53), at: heapMagic)  // "SNPHEAP1"
    _ = try store.region.msync()
    try store.close()
    #expect(throws: SnapshotError.unsupportedFormatVersion(path: path.string, found: 1, supported: 2)) {
      try SnapshotKV.open(at: path)
    }
  }

  @Test func aRegionWithoutAStoreIsRefused() throws {
    let directory = TestDirectory()
    let path = directory.file("plain")
    try Region.create(at: path, size: 1 << 20, options: .init(backing: .persistentMemory)).close()
    #expect(throws: SnapshotError.self) { try SnapshotKV.open(at: path) }
  }
}
