import Snapshot

/// The index of a key-value store: one of the containers, behind the operations a store needs, so that
/// the store and the benchmarks hold one value instead of an optional per container.
public enum StoreIndex<Backend: PersistenceBackend> {
  /// A B+tree: keys in order, range scans.
  case ordered(PersistentBTree<Backend>)
  /// A hash map: point operations only.
  case hashed(PersistentHashMap<Backend>)

  /// An empty index of `kind` in `backend`.
  @inlinable
  public static func create(_ kind: SnapshotKV.Index, in backend: Backend) throws(SnapshotError) -> StoreIndex {
    switch kind {
    case .ordered: .ordered(try PersistentBTree.create(in: backend))
    case .hashed: .hashed(try PersistentHashMap.create(in: backend))
    }
  }

  /// The index of `kind` whose root record is at `root`.
  @inlinable
  public init(_ kind: SnapshotKV.Index, backend: Backend, root: Int) {
    switch kind {
    case .ordered: self = .ordered(PersistentBTree(backend: backend, root: root))
    case .hashed: self = .hashed(PersistentHashMap(backend: backend, root: root))
    }
  }

  /// Which container this is.
  @inlinable
  public var kind: SnapshotKV.Index {
    switch self {
    case .ordered: .ordered
    case .hashed: .hashed
    }
  }

  /// The offset of the container's root record.
  @inlinable
  public var root: Int {
    switch self {
    case .ordered(let tree): tree.root
    case .hashed(let map): map.root
    }
  }

  /// The number of keys.
  @inlinable
  public var count: Int {
    switch self {
    case .ordered(let tree): tree.count
    case .hashed(let map): map.count
    }
  }

  /// Calls `body` with the value stored under `key`, in place; nil when there is none.
  @inlinable
  public func withValue<R>(for key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) throws(SnapshotError) -> R? {
    switch self {
    case .ordered(let tree): try tree.withValue(for: key, body)
    case .hashed(let map): try map.withValue(for: key, body)
    }
  }

  /// Where the value stored under `key` lies, or nil.
  @inlinable
  public func valueRange(for key: UnsafeRawBufferPointer) throws(SnapshotError) -> Range<Int>? {
    switch self {
    case .ordered(let tree): try tree.valueRange(for: key)
    case .hashed(let map): try map.valueRange(for: key)
    }
  }

  /// Stores `value` under `key`, replacing any value there.
  @inlinable
  public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SnapshotError) {
    switch self {
    case .ordered(let tree): try tree.put(key, value)
    case .hashed(let map): try map.put(key, value)
    }
  }

  /// Removes `key`; returns whether it was there.
  @inlinable
  public func remove(_ key: UnsafeRawBufferPointer) throws(SnapshotError) -> Bool {
    switch self {
    case .ordered(let tree): try tree.remove(key)
    case .hashed(let map): try map.remove(key)
    }
  }

  /// The B+tree, for scans; nil for a hash map, which keeps no order.
  @inlinable
  public var ordered: PersistentBTree<Backend>? {
    if case .ordered(let tree) = self { return tree }
    return nil
  }

  /// Walks the whole container; returns the number of allocations it owns.
  public func check() throws(SnapshotError) -> Int {
    switch self {
    case .ordered(let tree): try tree.check()
    case .hashed(let map): try map.check()
    }
  }
}
