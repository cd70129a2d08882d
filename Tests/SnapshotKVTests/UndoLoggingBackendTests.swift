import Testing
import Snapshot
import SnapshotKV
import SnapshotVerification

/// What an undo-logging backend (PMDK's transactions) relies on: the containers announce every change
/// to bytes that existed before the commit. This backend logs before-images where they are announced,
/// records any other store outside a fresh block as a violation, and rolls back by restoring the images,
/// so a missing announcement shows both as a violation and as a rollback that does not restore the state.
final class UndoLoggingBackend: PersistenceBackend {
  final class Ledger {
    var top: Int
    var committedTop: Int
    var fresh: [Range<Int>] = []
    var images: [(offset: Int, bytes: [UInt8])] = []
    var violations: [String] = []

    init(top: Int) {
      self.top = top
      committedTop = top
    }

    func check(_ range: Range<Int>) {
      func covers(_ outer: Range<Int>) -> Bool { outer.lowerBound <= range.lowerBound && range.upperBound <= outer.upperBound }
      if fresh.contains(where: covers) || images.contains(where: { covers($0.offset..<$0.offset + $0.bytes.count) }) { return }
      violations.append("unannounced store to \(range)")
    }
  }

  struct Memory: ContainerMemory {
    let plain: PlainMemory
    let ledger: Ledger

    var size: Int { plain.size }
    func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T { plain.load(T.self, at: offset) }
    func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
      plain.withBytes(at: offset, count: count, body)
    }

    func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
      ledger.check(offset..<offset + MemoryLayout<T>.size)
      plain.store(value, at: offset)
    }

    func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) {
      ledger.check(offset..<offset + bytes.count)
      plain.copy(from: bytes, to: offset)
    }

    func fill(_ byte: UInt8, at offset: Int, count: Int) {
      ledger.check(offset..<offset + count)
      plain.fill(byte, at: offset, count: count)
    }

    func prepareToChange(at offset: Int, count: Int) {
      ledger.images.append((offset, plain.withBytes(at: offset, count: count) { Array($0) }))
    }
  }

  let memory: Memory
  let base: UnsafeMutableRawPointer

  init(size: Int) {
    base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    memory = Memory(plain: PlainMemory(base: base, size: size), ledger: Ledger(top: 64))
  }

  deinit {
    base.deallocate()
  }

  var ledger: Ledger { memory.ledger }
  var rootOffset: Int { 0 }

  /// A bump allocator: freed blocks are never reused, so a rollback needs only to lower the top.
  func allocate(_ size: Int) throws(SnapshotError) -> Int {
    let block = ledger.top
    guard block + size <= memory.size else { throw .regionFull(requested: size, available: memory.size - block) }
    ledger.top += (size + 15) / 16 * 16
    ledger.fresh.append(block..<block + size)
    return block
  }

  func free(_ offset: Int) {}

  @discardableResult
  func commit() throws(SnapshotError) -> UInt64 {
    ledger.images.removeAll()
    ledger.fresh.removeAll()
    ledger.committedTop = ledger.top
    return 0
  }

  func rollback() {
    for image in ledger.images.reversed() {
      image.bytes.withUnsafeBytes { memory.plain.copy(from: $0, to: image.offset) }
    }
    ledger.images.removeAll()
    ledger.fresh.removeAll()
    ledger.top = ledger.committedTop
  }
}

@Suite struct UndoLoggingBackendTests {
  /// Random puts (new keys, same-length and other-length replacements) and removes, each batch
  /// committed or rolled back; after a rollback the container must hold exactly the committed entries.
  func exercise(
    put: ([UInt8], [UInt8]) throws -> Void, remove: ([UInt8]) throws -> Void, contents: () throws -> [[UInt8]: [UInt8]],
    check: () throws -> Void, backend: UndoLoggingBackend
  ) throws {
    var generator = SeededGenerator(seed: 7)
    var committed: [[UInt8]: [UInt8]] = [:]
    var working = committed
    for batch in 0..<300 {
      for _ in 0..<Int.random(in: 1...12, using: &generator) {
        let key = (0..<Int.random(in: 1...3, using: &generator)).map { _ in UInt8.random(in: 97...104, using: &generator) }
        if Int.random(in: 0..<4, using: &generator) == 0 {
          try remove(key)
          working[key] = nil
        } else {
          let length = working[key].map { Bool.random(using: &generator) ? $0.count : 40 } ?? Int.random(in: 0...60, using: &generator)
          let value = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
          try put(key, value)
          working[key] = value
        }
      }
      if Bool.random(using: &generator) {
        try backend.commit()
        committed = working
      } else {
        backend.rollback()
        working = committed
        #expect(try contents() == committed, "batch \(batch): the rollback did not restore the committed entries")
      }
      try check()
    }
    #expect(backend.ledger.violations.isEmpty, "\(backend.ledger.violations.prefix(5))")
  }

  @Test func theBTreeAnnouncesEveryChange() throws {
    let backend = UndoLoggingBackend(size: 16 << 20)
    let tree = try PersistentBTree.create(in: backend)
    try backend.commit()
    try exercise(
      put: { key, value in try key.withUnsafeBytes { key in try value.withUnsafeBytes { try tree.put(key, $0) } } },
      remove: { key in _ = try key.withUnsafeBytes { try tree.remove($0) } },
      contents: {
        var entries: [[UInt8]: [UInt8]] = [:]
        try tree.scan(from: UnsafeRawBufferPointer(start: nil, count: 0), limit: .max) { key, value in
          entries[Array(key)] = Array(value)
          return true
        }
        return entries
      },
      check: { try tree.check() }, backend: backend)
  }

  @Test func theHashMapAnnouncesEveryChange() throws {
    let backend = UndoLoggingBackend(size: 16 << 20)
    let map = try PersistentHashMap.create(in: backend)
    try backend.commit()
    try exercise(
      put: { key, value in try key.withUnsafeBytes { key in try value.withUnsafeBytes { try map.put(key, $0) } } },
      remove: { key in _ = try key.withUnsafeBytes { try map.remove($0) } },
      contents: {
        var entries: [[UInt8]: [UInt8]] = [:]
        try map.forEach { key, value in entries[Array(key)] = Array(value) }
        return entries
      },
      check: { try map.check() }, backend: backend)
  }
}
