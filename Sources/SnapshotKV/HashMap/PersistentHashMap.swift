import Snapshot

/// A hash map of byte keys to byte values, laid out in a backend's memory: separate chaining, buckets
/// doubling when the map is three-quarters full. Every change goes through the backend's stores, so on a
/// region it commits atomically with everything else at msync.
///
/// Root record (32 bytes): bucket array offset, bucket count, entry count. Entry (one allocation): next
/// entry (8), hash (8), key length (4), value length (4), the key, the value.
///
/// Every structural field is checked before it is used (the bucket array and its size, entry offsets
/// and lengths, chain lengths bounded by the entry count): a map whose bytes were changed outside the
/// library throws `SnapshotError.storeCorrupt` before anything is changed, and never traps.
public struct PersistentHashMap<Backend: PersistenceBackend> {
  public let backend: Backend
  /// Where the root record lives.
  public let root: Int

  @inlinable static var entryHeader: Int { 24 }
  @inlinable static var initialBuckets: Int { 64 }

  /// The backend's memory, held here so that a load does not go through the backend object.
  @usableFromInline let memory: Backend.Memory
  /// The number of entries.
  @inlinable public var count: Int { Int(truncatingIfNeeded: memory.load(UInt64.self, at: root + 16)) }

  /// The bucket array and the number of buckets, checked: a power of two, the array inside the store.
  @inlinable func table() throws(SnapshotError) -> (buckets: Int, count: Int) {
    let count = try memory.loadCount(at: root + 8, maximum: memory.size / 8, "hash map bucket count")
    guard count > 0, count & (count - 1) == 0 else {
      throw .storeCorrupt(offset: root + 8, reason: "hash map bucket count \(count), not a power of two")
    }
    return (try memory.loadAllocation(at: root, length: count * 8, "hash map bucket array"), count)
  }

  /// The number of entries, checked: no more than fit in the store.
  @inlinable func checkedCount() throws(SnapshotError) -> Int {
    try memory.loadCount(at: root + 16, maximum: memory.size / (Self.entryHeader + 8), "hash map entry count")
  }

  /// The entry a chain link at `field` points to (0 ends the chain), checked to lie, with its key and
  /// value, inside the store.
  @inlinable func entry(at field: Int) throws(SnapshotError) -> Int {
    let entry = try memory.loadOptionalAllocation(at: field, length: Self.entryHeader, "hash map entry")
    guard entry != 0 else { return 0 }
    guard keyLength(entry) + valueLength(entry) <= memory.size - entry - Self.entryHeader else {
      throw .storeCorrupt(offset: entry, reason: "a hash map entry whose lengths run past the end of the store")
    }
    return entry
  }

  /// Opens the map whose root record is at `root`.
  @inlinable public init(backend: Backend, root: Int) {
    self.backend = backend
    memory = backend.memory
    self.root = root
  }

  /// Creates an empty map, its root record allocated in the backend.
  @inlinable public static func create(in backend: Backend) throws(SnapshotError) -> PersistentHashMap {
    let root = try backend.allocate(32)
    let buckets = try allocateBuckets(initialBuckets, in: backend)
    backend.memory.store(UInt64(buckets), at: root)
    backend.memory.store(UInt64(initialBuckets), at: root + 8)
    backend.memory.store(UInt64(0), at: root + 16)
    return PersistentHashMap(backend: backend, root: root)
  }

  /// The value stored under `key`, read by `body`; nil when there is none.
  @inlinable public func withValue<R>(for key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) throws(SnapshotError) -> R? {
    guard let value = try valueRange(for: key) else { return nil }
    return memory.withBytes(at: value.lowerBound, count: value.count, body)
  }

  /// Where the value stored under `key` lives in the backend's memory; nil when there is none. Its
  /// bytes may be overwritten in place (with `update`, announcing the change) until the next change
  /// to the map.
  @inlinable public func valueRange(for key: UnsafeRawBufferPointer) throws(SnapshotError) -> Range<Int>? {
    guard let entry = try find(key, hash: hashBytes(key)).entry else { return nil }
    let start = entry + Self.entryHeader + keyLength(entry)
    return start..<start + valueLength(entry)
  }

  /// Stores `value` under `key`, replacing any value there. A value of the same length is overwritten in
  /// place; otherwise a new entry takes the old one's place in its chain. Allocates everything it needs
  /// before it changes anything, so `SnapshotError.regionFull` leaves the map as it was.
  @inlinable public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SnapshotError) {
    let hash = hashBytes(key)
    let (link, existing) = try find(key, hash: hash)
    if let existing, valueLength(existing) == value.count {
      memory.update(from: value, at: existing + Self.entryHeader + key.count)
      return
    }
    if let existing { try backend.checkAllocated(existing) }
    let count = try checkedCount()
    let (buckets, bucketCount) = try table()
    let growing = existing == nil && count + 1 > bucketCount / 4 * 3
    // A rehash moves every entry and frees the old array: each chain is walked (and so checked)
    // before anything changes.
    if growing {
      try forEach { _, _ in }
      try backend.checkAllocated(buckets)
    }
    let entry = try backend.allocate(Self.entryHeader + key.count + value.count)
    var newBuckets: Int?
    if growing {
      do { newBuckets = try Self.allocateBuckets(bucketCount * 2, in: backend) } catch {
        backend.free(entry)
        throw error
      }
    }
    memory.store(hash, at: entry + 8)
    memory.store(UInt32(key.count), at: entry + 16)
    memory.store(UInt32(value.count), at: entry + 20)
    memory.copy(from: key, to: entry + Self.entryHeader)
    memory.copy(from: value, to: entry + Self.entryHeader + key.count)
    if let existing {
      memory.store(memory.load(UInt64.self, at: existing), at: entry)
      memory.update(UInt64(entry), at: link)
      backend.free(existing)
      return
    }
    memory.store(memory.load(UInt64.self, at: link), at: entry)
    memory.update(UInt64(entry), at: link)
    memory.update(UInt64(count + 1), at: root + 16)
    if let newBuckets { rehash(into: newBuckets) }
  }

  /// Removes the entry for `key`; returns whether there was one.
  @discardableResult
  @inlinable public func remove(_ key: UnsafeRawBufferPointer) throws(SnapshotError) -> Bool {
    let (link, existing) = try find(key, hash: hashBytes(key))
    guard let existing else { return false }
    try backend.checkAllocated(existing)
    memory.update(memory.load(UInt64.self, at: existing), at: link)
    backend.free(existing)
    memory.update(UInt64(truncatingIfNeeded: count &- 1), at: root + 16)
    return true
  }

  /// Calls `body` with each key and value, in no particular order.
  /// Throws `storeCorrupt` when the chains hold more entries than the count says (a chain that loops
  /// does).
  @inlinable public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) throws(SnapshotError) {
    let (buckets, bucketCount) = try table()
    var remaining = try checkedCount()
    for bucket in 0..<bucketCount {
      var link = buckets + bucket * 8
      var entry = try self.entry(at: link)
      while entry != 0 {
        remaining -= 1
        guard remaining >= 0 else { throw .storeCorrupt(offset: link, reason: "the hash map's chains hold more entries than its count") }
        let keyCount = keyLength(entry)
        memory.withBytes(at: entry + Self.entryHeader, count: keyCount + valueLength(entry)) { bytes in
          body(UnsafeRawBufferPointer(rebasing: bytes[..<keyCount]), UnsafeRawBufferPointer(rebasing: bytes[keyCount...]))
        }
        link = entry
        entry = try self.entry(at: link)
      }
    }
  }

  /// The entry holding `key`, if any, and the link that points to it (or would point to a new entry).
  @inlinable func find(_ key: UnsafeRawBufferPointer, hash: UInt64) throws(SnapshotError) -> (link: Int, entry: Int?) {
    let (buckets, bucketCount) = try table()
    var link = buckets + Int(hash & UInt64(bucketCount - 1)) * 8
    var entry = try self.entry(at: link)
    var steps = try checkedCount()
    while entry != 0 {
      steps -= 1
      guard steps >= 0 else { throw .storeCorrupt(offset: link, reason: "a hash map chain longer than the entry count") }
      if memory.load(UInt64.self, at: entry + 8) == hash, keyLength(entry) == key.count,
        memory.withBytes(at: entry + Self.entryHeader, count: key.count, { compareBytes($0, key) == 0 })
      {
        return (link, entry)
      }
      link = entry
      entry = try self.entry(at: link)
    }
    return (link, nil)
  }

  /// Moves every entry to its chain in `newBuckets`, twice as many buckets, and frees the old ones.
  /// The table and every chain were checked before the change began.
  @inlinable func rehash(into newBuckets: Int) {
    let oldBuckets = Int(memory.load(UInt64.self, at: root)), oldCount = Int(memory.load(UInt64.self, at: root + 8))
    let newCount = oldCount * 2
    for bucket in 0..<oldCount {
      var entry = Int(memory.load(UInt64.self, at: oldBuckets + bucket * 8))
      while entry != 0 {
        let next = memory.load(UInt64.self, at: entry)
        let slot = newBuckets + Int(memory.load(UInt64.self, at: entry + 8) & UInt64(newCount - 1)) * 8
        memory.update(memory.load(UInt64.self, at: slot), at: entry)
        memory.store(UInt64(entry), at: slot)
        entry = Int(next)
      }
    }
    memory.update(UInt64(newBuckets), at: root)
    memory.update(UInt64(newCount), at: root + 8)
    backend.free(oldBuckets)
  }

  @inlinable static func allocateBuckets(_ count: Int, in backend: Backend) throws(SnapshotError) -> Int {
    let buckets = try backend.allocate(count * 8)
    backend.memory.fill(0, at: buckets, count: count * 8)
    return buckets
  }

  @inlinable func keyLength(_ entry: Int) -> Int { Int(memory.load(UInt32.self, at: entry + 16)) }
  @inlinable func valueLength(_ entry: Int) -> Int { Int(memory.load(UInt32.self, at: entry + 20)) }

  /// Checks the map: every entry sits in the chain its hash selects, its hash is its key's, no chain
  /// loops, and the entry count is right. Returns how many allocations the map owns (root record,
  /// bucket array, entries), for a leak check against the heap.
  @discardableResult
  public func check() throws(SnapshotError) -> Int {
    let (buckets, bucketCount) = try table()
    var total = 0
    for bucket in 0..<bucketCount {
      var link = buckets + bucket * 8
      var entry = try self.entry(at: link)
      while entry != 0 {
        let hash = memory.load(UInt64.self, at: entry + 8)
        guard Int(hash & UInt64(bucketCount - 1)) == bucket else {
          throw .storeCorrupt(offset: entry + 8, reason: "a hash map entry in bucket \(bucket), where its hash does not lead")
        }
        guard memory.withBytes(at: entry + Self.entryHeader, count: keyLength(entry), hashBytes) == hash else {
          throw .storeCorrupt(offset: entry + 8, reason: "a hash map entry whose hash is not its key's")
        }
        total += 1
        guard total <= count else { throw .storeCorrupt(offset: link, reason: "the hash map's chains hold more entries than its count") }
        link = entry
        entry = try self.entry(at: link)
      }
    }
    guard total == count else { throw .storeCorrupt(offset: root + 16, reason: "the hash map counts \(count) entries and holds \(total)") }
    return 2 + total
  }
}
