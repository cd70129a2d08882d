import CSnapshotPlatform
extension Region {
  /// Stores `value` at `offset` of the working copy and marks every 64-byte line it touches as
  /// changed. Any alignment is allowed; a value spanning two lines marks both.
  ///
  /// Costs one bit test when the line is already dirty. Traps when the bytes do not lie inside the
  /// region, as an array subscript does.
  @inlinable @inline(__always)
  public func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
    _willWrite(offset: offset, count: MemoryLayout<T>.size)
    (_working + offset).storeBytes(of: value, as: T.self)
  }

  /// Loads a `T` from `offset` of the working copy. Any alignment is allowed.
  @inlinable @inline(__always)
  public func load<T: BitwiseCopyable>(_ type: T.Type = T.self, at offset: Int) -> T {
    _checkBounds(offset: offset, count: MemoryLayout<T>.size)
    return (_working + offset).loadUnaligned(as: T.self)
  }

  /// Copies `source` into the region at `offset` (the tracked `memcpy`).
  @inlinable
  public func copy(from source: UnsafeRawBufferPointer, to offset: Int) {
    _willWrite(offset: offset, count: source.count)
    guard let base = source.baseAddress else { return }
    (_working + offset).copyMemory(from: base, byteCount: source.count)
  }

  /// Copies `count` bytes inside the region from `sourceOffset` to `offset`; the ranges may overlap
  /// (the tracked `memmove`).
  @inlinable
  public func copy(from sourceOffset: Int, to offset: Int, count: Int) {
    _checkBounds(offset: sourceOffset, count: count)
    _willWrite(offset: offset, count: count)
    (_working + offset).copyMemory(from: _working + sourceOffset, byteCount: count)
  }

  /// Sets `count` bytes at `offset` to `byte` (the tracked `memset`).
  @inlinable
  public func fill(_ byte: UInt8, at offset: Int, count: Int) {
    _willWrite(offset: offset, count: count)
    (_working + offset).initializeMemory(as: UInt8.self, repeating: byte, count: count)
  }

  /// Calls `body` with the working copy, for reading.
  ///
  /// Do not write through the buffer (the changes would not be tracked) and do not keep it after
  /// `body` returns.
  @inlinable
  public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try body(UnsafeRawBufferPointer(start: _working, count: size))
  }

  /// A tracked pointer to a `T` at `offset`.
  @inlinable
  public func pointer<T: BitwiseCopyable>(to type: T.Type, at offset: Int) -> TrackedPointer<T> {
    _checkBounds(offset: offset, count: MemoryLayout<T>.size)
    return TrackedPointer(region: self, offset: offset)
  }

  /// Marks the lines of `[offset, offset + count)` as changed; on the first store to a line in an
  /// epoch, the journal sees the line before it changes.
  ///
  /// The path is shaped for the common case: a value inside one line whose bit is already set costs a
  /// bounds check, a bit test and a branch. Everything else (a first store, a value spanning lines, a
  /// bulk range) goes to `ChangeTracker.markLines`.
  ///
  /// A bit is set only for a line inside the region, so the common case checks the bound that never
  /// moves, the maximum size (which also keeps the bit test inside the bitmap), and the region's size,
  /// which a grow changes and every store would have to load again, only on the way to `markLines`.
  ///
  /// The bit is read with a relaxed atomic load (a plain load to the processor), since in a region
  /// shared by threads another thread may set bits of the same word.
  @inlinable @inline(__always)
  func _willWrite(offset: Int, count: Int) {
    _checkBounds(offset: offset, count: count, size: maximumSize)
    assert(
      snapshot_load_relaxed(_changes.commitWord) != 2,  // ConcurrentLineTracker.takingLines
      "a store raced with msync or discard on another thread: put stores in Region.change { } (threads: .many), or hand the region over between threads (threads: .one)")
    if count <= 64 && offset & 63 <= 64 &- count {
      let line = offset &>> 6
      if snapshot_load_relaxed(_changes.bitmap + line &>> 6) & (1 &<< UInt64(truncatingIfNeeded: line & 63)) != 0 { return }
    }
    _checkBounds(offset: offset, count: count)
    guard count > 0 else { return }
    _changes.markLines(first: offset &>> 6, last: (offset &+ count &- 1) &>> 6)
  }

  /// Traps unless `[offset, offset + count)` lies inside the first `size` bytes (by default the
  /// region's size).
  @inlinable @inline(__always)
  func _checkBounds(offset: Int, count: Int, size: Int? = nil) {
    let size = size ?? self.size
    // One unsigned comparison rejects negative offsets too, as long as `count` fits the region.
    precondition(
      count >= 0 && count <= size && UInt(bitPattern: offset) <= UInt(bitPattern: size &- count),
      "access outside the region")
  }
}
