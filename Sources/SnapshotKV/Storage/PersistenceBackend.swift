import Snapshot

/// Everything a container needs from where it lives: loads and stores at offsets (and how a store
/// becomes durable), allocation, a root, and what a commit does. The containers are generic over it, so
/// the very same code runs on a region (tracked stores, msync), in ordinary memory, or, in the
/// benchmarks, on other persistence systems.
public protocol PersistenceBackend: AnyObject {
  associatedtype Memory: ContainerMemory
  var memory: Memory { get }
  /// Allocates `size` bytes, 16-byte aligned; throws `SnapshotError.regionFull` with nothing changed.
  func allocate(_ size: Int) throws(SnapshotError) -> Int
  /// Returns an allocation.
  func free(_ offset: Int)
  /// Throws `SnapshotError.storeCorrupt` unless `offset` is an allocation `free` can return. A
  /// container calls it, before it changes anything, for each allocation it will free.
  func checkAllocated(_ offset: Int) throws(SnapshotError)
  /// Where the first 64 bytes of the store's own root record live.
  var rootOffset: Int { get }
  /// Makes every change since the last commit durable, as one atomic unit when the backend can.
  @discardableResult
  func commit() throws(SnapshotError) -> UInt64
}

extension PersistenceBackend {
  /// An allocator that keeps no headers in the store's memory has nothing to check.
  @inlinable
  public func checkAllocated(_ offset: Int) throws(SnapshotError) {}
}

/// A backend whose allocator is a `Heap` laid out in the same memory.
public final class HeapBackend<Memory: ContainerMemory>: PersistenceBackend {
  public let memory: Memory
  public let heap: Heap<Memory>
  private let onCommit: () throws(SnapshotError) -> UInt64

  /// A backend over `memory`, with its heap starting at `heapOffset`; `commit` is what commit does.
  public init(memory: Memory, heapOffset: Int, commit: @escaping () throws(SnapshotError) -> UInt64) {
    self.memory = memory
    self.heap = Heap(memory: memory, offset: heapOffset)
    self.onCommit = commit
  }

  @inlinable
  public func allocate(_ size: Int) throws(SnapshotError) -> Int {
    try heap.allocate(size)
  }

  @inlinable
  public func free(_ offset: Int) {
    heap.free(offset)
  }

  @inlinable
  public func checkAllocated(_ offset: Int) throws(SnapshotError) {
    try heap.checkAllocated(offset)
  }

  public var rootOffset: Int { heap.rootRecordOffset }

  @discardableResult
  public func commit() throws(SnapshotError) -> UInt64 {
    try onCommit()
  }
}

/// The backend of a region: tracked stores, the heap inside the region, msync as commit.
public typealias RegionBackend = HeapBackend<RegionMemory>

extension HeapBackend where Memory == RegionMemory {
  /// The backend of `region`, whose heap starts at offset 64 (offset 0 stays the null offset).
  public convenience init(region: Region) {
    self.init(memory: RegionMemory(region: region), heapOffset: 64) { () throws(SnapshotError) in try region.msync() }
  }
}
