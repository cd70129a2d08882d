import CPMDK
import Foundation
import Snapshot
import SnapshotKV
import SystemPackage

/// The pool's bytes: offsets are PMDK's own object offsets, from the pool's base.
struct PMDKPoolMemory: ContainerMemory {
  let plain: PlainMemory

  var size: Int { plain.size }

  @inline(__always)
  func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T { plain.load(T.self, at: offset) }

  @inline(__always)
  func store<T: BitwiseCopyable>(_ value: T, at offset: Int) { plain.store(value, at: offset) }

  func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) { plain.copy(from: bytes, to: offset) }

  func fill(_ byte: UInt8, at offset: Int, count: Int) { plain.fill(byte, at: offset, count: count) }

  @inline(__always)
  func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    plain.withBytes(at: offset, count: count, body)
  }

  /// The undo snapshot of TX_ADD: PMDK copies the old bytes into its log and persists them.
  func prepareToChange(at offset: Int, count: Int) {
    let result = pmemobj_tx_add_range_direct(plain.base + offset, count)
    precondition(result == 0, "pmemobj_tx_add_range_direct failed: \(String(cString: pmemobj_errormsg()))")
  }
}

/// PMDK's libpmemobj as a persistence backend, so that the very same containers run on it: a pool file,
/// one transaction open at all times, changes snapshotted into PMDK's undo log where the containers
/// announce them, PMDK's own transactional allocator, and commit = commit the transaction and open the
/// next. With PMEM_IS_PMEM_FORCE=1 PMDK persists with cache flushes, as on real persistent memory.
/// `Memory` is what the containers see of the pool: the pool itself, or the pool behind a device model.
final class PMDKBackend<Memory: ContainerMemory>: PersistenceBackend {
  let path: String
  let pool: OpaquePointer
  let memory: Memory
  let rootOffset: Int
  private let poolIdentifier: UInt64

  /// Creates a pool of `size` bytes at `path`, whose bytes the containers see through
  /// `memory(the pool's bytes)`, and opens the first transaction.
  init(path: String, size: Int, memory makeMemory: (PMDKPoolMemory) -> Memory) throws {
    guard let pool = pmemobj_create(path, "snapshot-bench", size, 0o600) else {
      throw BaselineError(description: "pmemobj_create \(path): \(String(cString: pmemobj_errormsg()))")
    }
    self.path = path
    self.pool = pool
    let root = pmemobj_root(pool, 64)
    poolIdentifier = root.pool_uuid_lo
    rootOffset = Int(root.off)
    memory = makeMemory(PMDKPoolMemory(plain: PlainMemory(base: UnsafeMutableRawPointer(pool), size: size)))
    try begin()
  }

  private func begin() throws(SnapshotError) {
    let result = snapshot_pmemobj_tx_begin(pool)
    guard result == 0 else { throw .system(path: path, operation: "pmemobj_tx_begin", errno: Errno(rawValue: result)) }
  }

  func allocate(_ size: Int) throws(SnapshotError) -> Int {
    let object = snapshot_pmemobj_tx_alloc_no_abort(size)
    guard object.off != 0 else { throw .regionFull(requested: size, available: 0) }
    return Int(object.off)
  }

  func free(_ offset: Int) {
    let result = pmemobj_tx_free(PMEMoid(pool_uuid_lo: poolIdentifier, off: UInt64(offset)))
    precondition(result == 0, "pmemobj_tx_free failed: \(String(cString: pmemobj_errormsg()))")
  }

  @discardableResult
  func commit() throws(SnapshotError) -> UInt64 {
    pmemobj_tx_commit()
    let result = pmemobj_tx_end()
    guard result == 0 else { throw .commitFailed(path: path, operation: "pmemobj_tx_commit", errno: Errno(rawValue: result)) }
    try begin()
    return 0
  }

  /// Ends the open transaction and closes the pool.
  func close() {
    pmemobj_tx_commit()
    _ = pmemobj_tx_end()
    pmemobj_close(pool)
  }
}

extension PMDKBackend where Memory == PMDKPoolMemory {
  /// Creates a pool of `size` bytes at `path`, the containers reaching it directly.
  convenience init(path: String, size: Int) throws {
    try self.init(path: path, size: size) { $0 }
  }
}
