import Snapshot
import SystemPackage

/// A key-value store in a region: byte keys to byte values, in a B+tree (ordered, with range scans) or a
/// hash map, both in the region's persistent heap. Every change, the heap's included, becomes durable
/// atomically at `commit()` (the region's msync): after a crash the store holds exactly the last
/// committed state, or the one being committed. With `autocommit`, every `put` and `delete` commits.
public final class SnapshotKV {
  /// How keys are indexed, chosen at creation.
  public enum Index: UInt8, Sendable, CustomStringConvertible {
    /// A B+tree: keys in order, range scans.
    case ordered = 1
    /// A hash map: point operations only.
    case hashed = 2

    public var description: String { self == .ordered ? "ordered" : "hashed" }
  }

  /// The region the store lives in.
  public let region: Region
  /// The index chosen at creation.
  public var index: Index { storeIndex.kind }
  /// Whether every `put` and `delete` commits at once.
  public var autocommit: Bool
  let backend: RegionBackend
  @usableFromInline let storeIndex: StoreIndex<RegionBackend>

  static var magic: UInt64 { 0x3156_4B50_414E_53 }  // "SNAPKV1"

  /// The size a store's region starts at when none is given: it grows as the store fills.
  public static var defaultInitialSize: Int { 1 << 20 }

  /// Creates a store in a new region at `path`, of `size` bytes (by default `defaultInitialSize`).
  /// `backing`, `logSize` and `maximumSize` are the region's (`Region.CreateOptions`).
  ///
  /// The region grows by itself when the heap needs room (by an eighth of its size, at least 1 MiB, up
  /// to `maximumSize`), atomically with the commit that needed it, so the size is never a thing to get
  /// right; only a region with the undo journal keeps its size.
  public static func create(
    at path: FilePath, size: Int? = nil, backing: Region.Backing? = nil, logSize: Int? = nil, maximumSize: Int? = nil,
    index: Index = .ordered, autocommit: Bool = true
  ) throws(SnapshotError) -> SnapshotKV {
    let region = try Region.create(
      at: path, size: size ?? defaultInitialSize, options: .init(backing: backing, logSize: logSize, maximumSize: maximumSize))
    do {
      return try SnapshotKV(formatting: region, index: index, autocommit: autocommit)
    } catch {
      try? region.close()
      throw error
    }
  }

  /// Opens the store in the region at `path` (recovering the region first if a crash interrupted it),
  /// letting it grow up to `maximumSize` (by default `Region.defaultMaximumSize`).
  public static func open(at path: FilePath, maximumSize: Int? = nil, autocommit: Bool = true) throws(SnapshotError) -> SnapshotKV {
    let region = try Region.open(at: path, maximumSize: maximumSize)
    do {
      return try SnapshotKV(region: region, autocommit: autocommit)
    } catch {
      try? region.close()
      throw error
    }
  }

  /// Lays out an empty store in `region` and commits it.
  public convenience init(formatting region: Region, index: Index, autocommit: Bool = true) throws(SnapshotError) {
    try Self.format(region, index: index)
    try region.msync()
    try self.init(region: region, autocommit: autocommit)
  }

  /// Lays out an empty store in `region`, leaving the commit to the caller.
  public static func format(_ region: Region, index: Index) throws(SnapshotError) {
    let backend = RegionBackend(region: region)
    backend.heap.format()
    let rootRecord = backend.rootOffset
    let root = try StoreIndex<RegionBackend>.create(index, in: backend).root
    region.store(UInt64(root), at: rootRecord + 16)
    region.store(UInt64(index.rawValue), at: rootRecord + 8)
    region.store(magic, at: rootRecord)
  }

  /// The store in an open region.
  public init(region: Region, autocommit: Bool = true) throws(SnapshotError) {
    self.region = region
    self.autocommit = autocommit
    backend = RegionBackend(region: region)
    let rootRecord = backend.rootOffset
    let supported = Heap<RegionMemory>.currentFormatVersion
    if let version = backend.heap.formatVersion, version != supported {
      throw .unsupportedFormatVersion(path: region.path.string, found: version, supported: supported)
    }
    guard backend.heap.isFormatted, region.load(UInt64.self, at: rootRecord) == Self.magic,
      let index = Index(rawValue: UInt8(truncatingIfNeeded: region.load(UInt64.self, at: rootRecord + 8)))
    else {
      throw .invalidOptions(reason: "\(region.path): the region holds no key-value store (snapshot kv put PATH KEY VALUE --create makes one in a new file, or in a region nothing was committed to)")
    }
    let root = try backend.memory.loadAllocation(at: rootRecord + 16, length: 32, "the index's root record")
    storeIndex = StoreIndex(index, backend: backend, root: root)
  }

  /// The number of keys.
  public var count: Int { storeIndex.count }

  /// The value stored under `key`, or nil.
  public func get(_ key: some Collection<UInt8>) throws(SnapshotError) -> [UInt8]? {
    try Array(key).withBytes { key throws(SnapshotError) in try withValue(for: key) { Array($0) } }
  }

  /// Calls `body` with the value stored under `key`, in place, without copying it; nil when there is
  /// none. The bytes are valid only inside `body`.
  @inlinable
  public func withValue<R>(for key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) throws(SnapshotError) -> R? {
    try storeIndex.withValue(for: key, body)
  }

  /// Stores `value` under `key`, growing the region if the heap needs room. Throws
  /// `SnapshotError.regionFull` (storing nothing) when it does not fit even at the region's maximum size.
  public func put(_ key: some Collection<UInt8>, _ value: some Collection<UInt8>) throws(SnapshotError) {
    let keyBytes = Array(key), valueBytes = Array(value)
    try keyBytes.withBytes { key throws(SnapshotError) in
      try valueBytes.withBytes { value throws(SnapshotError) in try put(key, value) }
    }
  }

  /// Stores the bytes of `value` under the bytes of `key`, without copying them first.
  public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SnapshotError) {
    // Lengths are kept in 32 bits.
    guard key.count <= Int(UInt32.max), value.count <= Int(UInt32.max) else {
      throw .invalidSize(requested: max(key.count, value.count), reason: "keys and values are limited to 4 GiB - 1 bytes each")
    }
    try storeIndex.put(key, value)
    if autocommit { try commit() }
  }

  /// Overwrites part of the value stored under `key` in place: `bytes` from byte `offset` of the value
  /// on, which must lie inside the value. Only the lines those bytes touch are committed. Returns false
  /// when there is no such key.
  public func overwrite(_ key: UnsafeRawBufferPointer, at offset: Int, with bytes: UnsafeRawBufferPointer) throws(SnapshotError) -> Bool {
    guard let value = try storeIndex.valueRange(for: key) else { return false }
    guard offset >= 0, offset <= value.count - bytes.count else {
      throw .invalidSize(requested: offset + bytes.count, reason: "the value is \(value.count) bytes; \(bytes.count) bytes at \(offset) do not fit inside it")
    }
    backend.memory.update(from: bytes, at: value.lowerBound + offset)
    if autocommit { try commit() }
    return true
  }

  /// Removes `key`; returns whether it was there.
  @discardableResult
  public func delete(_ key: some Collection<UInt8>) throws(SnapshotError) -> Bool {
    try Array(key).withBytes { key throws(SnapshotError) in try delete(key) }
  }

  /// Removes the bytes of `key`, without copying them first; returns whether they were there.
  @discardableResult
  public func delete(_ key: UnsafeRawBufferPointer) throws(SnapshotError) -> Bool {
    let removed = try storeIndex.remove(key)
    if autocommit, removed { try commit() }
    return removed
  }

  /// Up to `count` entries in key order, from the first key not less than `start`. Needs the ordered
  /// index.
  public func scan(from start: some Collection<UInt8>, count: Int) throws(SnapshotError) -> [(key: [UInt8], value: [UInt8])] {
    guard let tree = storeIndex.ordered else {
      throw .invalidOptions(reason: "\(region.path): a hashed store keeps no order; scans need an ordered one")
    }
    var entries: [(key: [UInt8], value: [UInt8])] = []
    try Array(start).withBytes { start throws(SnapshotError) in
      try tree.scan(from: start, limit: count) { key, value in
        entries.append((Array(key), Array(value)))
        return true
      }
    }
    return entries
  }

  /// Makes every change since the last commit durable, atomically; returns the region's epoch.
  @discardableResult
  public func commit() throws(SnapshotError) -> UInt64 {
    try backend.commit()
  }

  /// Forgets every change since the last commit.
  public func rollback() throws(SnapshotError) {
    try region.discard()
  }

  /// Closes the region. Changes not committed are forgotten.
  public func close() throws(SnapshotError) {
    try region.close()
  }

  /// The largest the store's region may grow to through this handle: its size, for a region that
  /// cannot grow.
  public var maximumSize: Int { backend.memory.maximumSize }

  /// The heap's figures.
  public var statistics: HeapStatistics { backend.heap.statistics }

  /// Walks the whole store: the heap's blocks and free lists, the index (order, counts, every node
  /// and entry reached once), and that every live allocation belongs to the index (nothing leaked).
  /// Throws `SnapshotError.storeCorrupt` at the first problem; changes nothing.
  public func check() throws(SnapshotError) {
    try backend.heap.check()
    let owned = try storeIndex.check()
    let live = backend.heap.statistics.liveAllocations
    guard owned == live else {
      throw .storeCorrupt(offset: backend.heap.offset, reason: "the heap holds \(live) allocations, the index owns \(owned): \(live - owned) leaked")
    }
  }

  #if DEBUG
  /// `check()`, as a precondition, for tests; compiled into debug builds only.
  package func _checkInvariants() {
    do { try check() } catch { preconditionFailure("\(error)") }
  }
  #endif
}

extension SnapshotKV {
  /// The value stored under a string key, as a string.
  public func get(_ key: String) throws(SnapshotError) -> String? {
    try get(Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) }
  }

  /// Stores a string value under a string key.
  public func put(_ key: String, _ value: String) throws(SnapshotError) {
    try put(Array(key.utf8), Array(value.utf8))
  }

  /// Removes a string key; returns whether it was there.
  @discardableResult
  public func delete(_ key: String) throws(SnapshotError) -> Bool {
    try delete(Array(key.utf8))
  }

  /// Up to `count` entries in key order from the first key not less than `start`, as strings (bytes that
  /// are not UTF-8 are repaired). Needs the ordered index.
  public func scan(from start: String, count: Int) throws(SnapshotError) -> [(key: String, value: String)] {
    try scan(from: Array(start.utf8), count: count).map { (String(decoding: $0.key, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }
  }
}
