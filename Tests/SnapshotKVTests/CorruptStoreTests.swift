import SystemPackage
import Testing
import Snapshot
import SnapshotKV
import SnapshotVerification
import SnapshotTestSupport

/// Stores whose bytes were changed outside the library, in ways the store fuzzer found to trap: each
/// operation must return or throw a `SnapshotError`.
@Suite struct CorruptStoreTests {
  /// The store fuzzer's small ordered store: 12 keys put, every fifth from the fourth deleted, committed.
  func smallOrderedStore(in directory: TestDirectory) throws -> SnapshotKV {
    let store = try SnapshotKV.create(at: directory.file("small.kv"), size: 1 << 20, index: .ordered, autocommit: false)
    var generator = SeededGenerator(seed: 5)
    for key in 0..<12 {
      let length = [0, 1, 7, 8, 16, 40, 100, 300][key % 8]
      try store.put(Array("key\(key)".utf8), (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
    for key in stride(from: 3, to: 12, by: 5) { try store.delete(Array("key\(key)".utf8)) }
    try store.commit()
    try store.check()
    return store
  }

  /// The heap's top moved down onto the leaf's own block (store fuzz case 1,454,756 of a soak): a put
  /// cut its record's block from the top, over the leaf, and then shifted the leaf's slots by a key
  /// count its record had overwritten, a trap. The put must throw, having changed nothing.
  @Test(arguments: [0, 8, 100, 2_000])
  func aPutWithTheHeapsTopOnTheLeafThrowsAndChangesNothing(valueLength: Int) throws {
    let directory = TestDirectory()
    let store = try smallOrderedStore(in: directory)
    defer { try? store.close() }
    let topField = 72, leaf = 0x280
    #expect(store.region.load(UInt64.self, at: topField) == 0xa30, "the heap's top, as the fuzz case found it")
    store.region.store(UInt64(leaf), at: topField)
    let damaged = store.region.withUnsafeBytes { Array($0) }
    let reopened = try SnapshotKV(region: store.region, autocommit: false)
    do {
      try reopened.put(Array("new\(valueLength)".utf8), [UInt8](repeating: 0xA5, count: valueLength))
      Issue.record("a put into a store whose heap top lies on the leaf succeeded")
    } catch {
      #expect(Self.isStoreCorrupt(error), "\(error)")
    }
    let unchanged = store.region.withUnsafeBytes { $0.elementsEqual(damaged) }
    #expect(unchanged, "the failed put changed the store")
  }

  /// A heap whose damage no check before the allocation sees (a large free block whose size was
  /// changed to reach over the next blocks) hands out memory a node occupies. Played by an allocator
  /// that hands out the leaf itself: a put into a leaf with room, and one that splits a full leaf,
  /// must throw before they write, not shift the leaf's slots by a key count their own record
  /// overwrote.
  @Test(arguments: [1, 30])
  func aPutGivenANodeAsItsNewBlockThrows(keysInTheLeaf: Int) throws {
    let base = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { base.deallocate() }
    let backend = MisallocatingBackend(memory: PlainMemory(base: base, size: 1 << 20))
    let tree = try PersistentBTree.create(in: backend)
    for key in 0..<keysInTheLeaf { try put(tree, "key\(key)", value: 8) }
    backend.handOut = Int(backend.memory.load(UInt64.self, at: tree.root))
    do {
      try put(tree, "new", value: 100)
      Issue.record("a put given its own leaf as its new block succeeded")
    } catch {
      #expect((error as? SnapshotError).map(Self.isStoreCorrupt) == true, "\(error)")
    }
  }

  func put(_ tree: PersistentBTree<MisallocatingBackend>, _ key: String, value length: Int) throws {
    let key = Array(key.utf8), value = [UInt8](repeating: 7, count: length)
    try key.withUnsafeBytes { key in
      try value.withUnsafeBytes { value in try tree.put(key, value) }
    }
  }

  static func isStoreCorrupt(_ error: SnapshotError) -> Bool {
    if case .storeCorrupt = error { return true }
    return false
  }
}

/// A heap backend in ordinary memory whose next allocation, when `handOut` is set, is that offset.
final class MisallocatingBackend: PersistenceBackend {
  let heap: HeapBackend<PlainMemory>
  var handOut: Int?

  init(memory: PlainMemory) {
    heap = HeapBackend(memory: memory, heapOffset: 64) { () throws(SnapshotError) in 0 }
    heap.heap.format()
  }

  var memory: PlainMemory { heap.memory }
  var rootOffset: Int { heap.rootOffset }

  func allocate(_ size: Int) throws(SnapshotError) -> Int {
    if let offset = handOut {
      handOut = nil
      return offset
    }
    return try heap.allocate(size)
  }

  func free(_ offset: Int) { heap.free(offset) }
  func checkAllocated(_ offset: Int) throws(SnapshotError) { try heap.checkAllocated(offset) }
  func commit() throws(SnapshotError) -> UInt64 { 0 }
}
