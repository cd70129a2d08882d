import Snapshot
import SnapshotKV

/// A key-value store under comparison: the operations YCSB needs, and a commit that makes every
/// change since the previous commit durable (as one atomic unit, where the engine can).
protocol KeyValueEngine: AnyObject {
  /// Copies the value stored under `key` into `buffer` (which has room for it); false when missing.
  func read(_ key: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool
  /// Stores a new value, or replaces one.
  func insert(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws
  /// Overwrites `bytes.count` bytes of the value, from byte `offset` on; false when the key is missing.
  func update(_ key: UnsafeRawBufferPointer, at offset: Int, with bytes: UnsafeRawBufferPointer) throws -> Bool
  /// Copies up to `count` values in key order, from the first key not less than `key`, into `buffer`
  /// one after another; returns how many.
  func scan(from key: UnsafeRawBufferPointer, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
  func commit() throws
  /// Writes what the engine deferred past its commits (a redo journal's home writes), so that
  /// `bytesWritten` counts them.
  func settle() throws
  /// Bytes written to the medium so far, when the engine can tell.
  var bytesWritten: Int? { get }
  /// Whether `bytesWritten` counts on a file system too; otherwise the disk's own count of what it
  /// wrote during the run is used there.
  var countsFileWrites: Bool { get }
  func close()
}

extension KeyValueEngine {
  func settle() {}
  var countsFileWrites: Bool { false }
}

/// Which container a `ContainerEngine` uses.
enum IndexKind: String, CaseIterable, Codable, Sendable {
  /// The B+tree: ordered, with scans.
  case ordered
  /// The hash map: point operations only.
  case hashed
}

/// A container on a persistence backend: the same code for Snapshot (both trackings), POSIX msync,
/// PMDK and ordinary memory; only the backend differs.
final class ContainerEngine<Backend: PersistenceBackend>: KeyValueEngine {
  let backend: Backend
  let container: StoreIndex<Backend>
  private let onClose: () -> Void
  private let onSettle: () throws -> Void
  private let writtenBytes: () -> Int?

  /// An empty container in `backend`, committed.
  init(
    backend: Backend, index: IndexKind, bytesWritten: @escaping () -> Int? = { nil }, settle: @escaping () throws -> Void = {},
    onClose: @escaping () -> Void
  ) throws {
    self.backend = backend
    container = try .create(index == .ordered ? .ordered : .hashed, in: backend)
    self.onClose = onClose
    onSettle = settle
    writtenBytes = bytesWritten
    try backend.commit()
  }

  func read(_ key: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
    try container.withValue(for: key) { buffer.copyMemory(from: $0) } != nil
  }

  func insert(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
    try container.put(key, value)
  }

  func update(_ key: UnsafeRawBufferPointer, at offset: Int, with bytes: UnsafeRawBufferPointer) throws -> Bool {
    guard let value = try container.valueRange(for: key) else { return false }
    precondition(offset + bytes.count <= value.count, "an update past the end of the value")
    backend.memory.update(from: bytes, at: value.lowerBound + offset)
    return true
  }

  func scan(from key: UnsafeRawBufferPointer, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let tree = container.ordered else { throw BaselineError(description: "a hashed index keeps no order: scans need --index ordered") }
    var copied = 0, offset = 0
    try tree.scan(from: key, limit: count) { _, value in
      UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + value.count]).copyMemory(from: value)
      offset += value.count
      copied += 1
      return true
    }
    return copied
  }

  func commit() throws {
    try backend.commit()
  }

  func settle() throws {
    try onSettle()
  }

  var bytesWritten: Int? { writtenBytes() }

  func close() {
    onClose()
  }
}

/// A failure of a system compared against, with its own message.
struct BaselineError: Error, CustomStringConvertible {
  var description: String
}
