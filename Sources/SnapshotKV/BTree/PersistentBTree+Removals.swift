import Snapshot

extension PersistentBTree {
  /// Removes the entry for `key`; returns whether there was one. The slots after it shift left in
  /// place; nodes are not merged.
  @discardableResult
  @inlinable public func remove(_ key: UnsafeRawBufferPointer) throws(SnapshotError) -> Bool {
    let (leaf, position, found) = try locate(SearchKey(key))
    guard found else { return false }
    let record = try recordOffset(leaf, position)
    try backend.checkAllocated(record)
    let keys = keyCount(leaf) - 1
    memory.prepareToChange(at: leaf, count: Self.recordField(leaf, keys) - leaf)
    for index in position..<keys { write(slot(leaf, index + 1), to: leaf, index) }
    memory.store(UInt32(keys), at: leaf + 4)
    backend.free(record)
    memory.update(UInt64(truncatingIfNeeded: count &- 1), at: root + 8)
    return true
  }
}
