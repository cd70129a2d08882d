import Snapshot

/// A hash map of byte keys to byte values, laid out in a backend's memory: separate chaining, buckets
/// doubling when the map is three-quarters full. Every change goes through the backend's stores, so on a
/// region it commits atomically with everything else at msync.
///
/// Root record (32 bytes): bucket array offset, bucket count, entry count. Entry (one allocation): next
/// entry (8), hash (8), key length (4), value length (4), the key, the value.
public struct PersistentHashMap<Backend: PersistenceBackend> {
  public let backend: Backend
  /// Where the root record lives.
  public let root: Int

  @inlinable static var entryHeader: Int { 24 }
  @inlinable static var initialBuckets: Int { 64 }

  /// The backend's memory, held here so that a load does not go through the backend object.
  @usableFromInline let memory: Backend.Memory
  @inlinable var buckets: Int { Int(memory.load(UInt64.self, at: root)) }
  @inlinable var bucketCount: Int { Int(memory.load(UInt64.self, at: root + 8)) }
  /// The number of entries.
  @inlinable public var count: Int { Int(memory.load(UInt64.self, at: root + 16)) }

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
  @inlinable public func withValue<R>(for key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
    guard let value = valueRange(for: key) else { return nil }
    return memory.withBytes(at: value.lowerBound, count: value.count, body)
  }

  /// Where the value stored under `key` lives in the backend's memory; nil when there is none. Its
  /// bytes may be overwritten in place (with `update`, announcing the change) until the next change
  /// to the map.
  @inlinable public func valueRange(for key: UnsafeRawBufferPointer) -> Range<Int>? {
    guard let entry = find(key, hash: hashBytes(key)).entry else { return nil }
    let start = entry + Self.entryHeader + keyLength(entry)
    return start..<start + valueLength(entry)
  }

  /// Stores `value` under `key`, replacing any value there. A value of the same length is overwritten in
  /// place; otherwise a new entry takes the old one's place in its chain. Allocates everything it needs
  /// before it changes anything, so `SnapshotError.regionFull` leaves the map as it was.
  @inlinable public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SnapshotError) {
    let hash = hashBytes(key)
    let (link, existing) = find(key, hash: hash)
    if let existing, valueLength(existing) == value.count {
      memory.update(from: value, at: existing + Self.entryHeader + key.count)
      return
    }
    let entry = try backend.allocate(Self.entryHeader + key.count + value.count)
    var newBuckets: Int?
    if existing == nil, count + 1 > bucketCount / 4 * 3 {
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
  @inlinable public func remove(_ key: UnsafeRawBufferPointer) -> Bool {
    let (link, existing) = find(key, hash: hashBytes(key))
    guard let existing else { return false }
    memory.update(memory.load(UInt64.self, at: existing), at: link)
    backend.free(existing)
    memory.update(UInt64(count - 1), at: root + 16)
    return true
  }

  /// Calls `body` with each key and value, in no particular order.
  @inlinable public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
    for bucket in 0..<bucketCount {
      var entry = Int(memory.load(UInt64.self, at: buckets + bucket * 8))
      while entry != 0 {
        let keyCount = keyLength(entry)
        memory.withBytes(at: entry + Self.entryHeader, count: keyCount + valueLength(entry)) { bytes in
          body(UnsafeRawBufferPointer(rebasing: bytes[..<keyCount]), UnsafeRawBufferPointer(rebasing: bytes[keyCount...]))
        }
        entry = Int(memory.load(UInt64.self, at: entry))
      }
    }
  }

  /// The entry holding `key`, if any, and the link that points to it (or would point to a new entry).
  @inlinable func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> (link: Int, entry: Int?) {
    var link = buckets + Int(hash & UInt64(bucketCount - 1)) * 8
    var entry = Int(memory.load(UInt64.self, at: link))
    while entry != 0 {
      if memory.load(UInt64.self, at: entry + 8) == hash, keyLength(entry) == key.count,
        memory.withBytes(at: entry + Self.entryHeader, count: key.count, { compareBytes($0, key) == 0 })
      {
        return (link, entry)
      }
      link = entry
      entry = Int(memory.load(UInt64.self, at: entry))
    }
    return (link, nil)
  }

  /// Moves every entry to its chain in `newBuckets`, twice as many buckets, and frees the old ones.
  @inlinable func rehash(into newBuckets: Int) {
    let oldBuckets = buckets, oldCount = bucketCount
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
  public func _checkInvariants() -> Int {
    var total = 0
    for bucket in 0..<bucketCount {
      var entry = Int(memory.load(UInt64.self, at: buckets + bucket * 8))
      var steps = 0
      while entry != 0 {
        let hash = memory.load(UInt64.self, at: entry + 8)
        precondition(Int(hash & UInt64(bucketCount - 1)) == bucket, "entry \(entry) is in bucket \(bucket)")
        precondition(memory.withBytes(at: entry + Self.entryHeader, count: keyLength(entry), hashBytes) == hash, "entry \(entry) has a wrong hash")
        steps += 1
        precondition(steps <= count, "chain \(bucket) loops")
        total += 1
        entry = Int(memory.load(UInt64.self, at: entry))
      }
    }
    precondition(total == count, "\(total) entries, the count says \(count)")
    return 2 + total
  }
}
