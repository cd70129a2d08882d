import Synchronization

/// A rollback journal kept in memory. Snapshot's commit is atomic, so a journal is needed only to roll
/// a transaction back while the process lives: after a crash the region holds the last commit, and a
/// journal on disk would have nothing left to undo. Named like the file SQLite asked for, so that its
/// checks for a journal (`xAccess`) and its deletion find it.
final class MemoryJournal: @unchecked Sendable {
  private let bytes = Mutex<[UInt8]>([])

  private static let named = Mutex<[String: MemoryJournal]>([:])

  /// The journal called `name`, made empty if it does not exist.
  static func open(_ name: String) -> MemoryJournal {
    named.withLock { journals in
      if let journal = journals[name] { return journal }
      let journal = MemoryJournal()
      journals[name] = journal
      return journal
    }
  }

  static func exists(_ name: String) -> Bool { named.withLock { $0[name] != nil } }

  static func delete(_ name: String) { named.withLock { $0[name] = nil } }

  var count: Int { bytes.withLock { $0.count } }

  /// Copies `count` bytes at `offset` into `buffer`, zeros past the end; false when it read past it.
  func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) -> Bool {
    bytes.withLock { bytes in
      let available = max(0, min(count, bytes.count - offset))
      if available > 0 {
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + offset, byteCount: available) }
      }
      if available < count { (buffer + available).initializeMemory(as: UInt8.self, repeating: 0, count: count - available) }
      return available == count
    }
  }

  func write(_ source: UnsafeRawPointer, count: Int, at offset: Int) {
    bytes.withLock { bytes in
      if bytes.count < offset + count { bytes.append(contentsOf: repeatElement(0, count: offset + count - bytes.count)) }
      bytes.withUnsafeMutableBytes { ($0.baseAddress! + offset).copyMemory(from: source, byteCount: count) }
    }
  }

  func truncate(to length: Int) {
    bytes.withLock { bytes in
      if length < bytes.count { bytes.removeLast(bytes.count - length) }
    }
  }
}
