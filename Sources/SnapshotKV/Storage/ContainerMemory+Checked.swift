import Snapshot

/// Loads of the structural fields a store reads from its memory (offsets, counts), checked before
/// they are used: a store's bytes may have been changed outside the library, and a bad offset must
/// end in `SnapshotError.storeCorrupt`, never in a trap or a walk without end.
extension ContainerMemory {
  /// The allocation whose offset the 8-byte field at `field` holds: nonzero, 16-byte aligned (as every
  /// allocation is) and followed by `length` bytes inside the memory.
  @inlinable @inline(__always)
  func loadAllocation(at field: Int, length: Int, _ what: StaticString) throws(SnapshotError) -> Int {
    let offset = load(UInt64.self, at: field)
    try checkAllocation(offset, length: length, field: field, what)
    return Int(offset)
  }

  /// Like `loadAllocation`, for a field that holds 0 where there is no allocation.
  @inlinable @inline(__always)
  func loadOptionalAllocation(at field: Int, length: Int, _ what: StaticString) throws(SnapshotError) -> Int {
    let offset = load(UInt64.self, at: field)
    if offset == 0 { return 0 }
    try checkAllocation(offset, length: length, field: field, what)
    return Int(offset)
  }

  /// Checks that `offset` (read from `field`) can be an allocation of `length` bytes.
  @inlinable @inline(__always)
  func checkAllocation(_ offset: UInt64, length: Int, field: Int, _ what: StaticString) throws(SnapshotError) {
    guard offset != 0, offset & 15 == 0, length >= 0, length <= size, offset <= UInt64(size - length) else {
      throw .storeCorrupt(offset: field, reason: "\(what) at \(offset) with \(length) bytes lies outside the store")
    }
  }

  /// The count the 8-byte field at `field` holds, checked to be at most `maximum`.
  @inlinable @inline(__always)
  func loadCount(at field: Int, maximum: Int, _ what: StaticString) throws(SnapshotError) -> Int {
    let count = load(UInt64.self, at: field)
    guard count <= UInt64(maximum) else {
      throw .storeCorrupt(offset: field, reason: "\(what) \(count), more than the store can hold (\(maximum))")
    }
    return Int(count)
  }
}
