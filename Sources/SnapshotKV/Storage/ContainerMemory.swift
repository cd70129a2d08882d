import Snapshot

/// Bytes at offsets, and how a store to them is made durable: the memory a heap and its containers are
/// laid out in. Offsets, never addresses, so that everything stays valid wherever the memory is mapped.
public protocol ContainerMemory {
  /// The number of bytes, from offset 0.
  var size: Int { get }
  func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T
  func store<T: BitwiseCopyable>(_ value: T, at offset: Int)
  func copy(from bytes: UnsafeRawBufferPointer, to offset: Int)
  func fill(_ byte: UInt8, at offset: Int, count: Int)
  /// Calls `body` with `count` bytes at `offset`, for reading.
  func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R
  /// Announces that the `count` bytes at `offset` are about to change. Memory that logs before-images
  /// (undo logging, as PMDK's transactions do) snapshots them here; tracked memory and ordinary memory
  /// need nothing. Blocks allocated since the last commit need no announcement.
  func prepareToChange(at offset: Int, count: Int)
  /// The largest `size` can become through `grow(toHold:)`; `size` for memory that cannot grow.
  var maximumSize: Int { get }
  /// Makes `size` at least `bytes` (at most `maximumSize`), perhaps more: the new bytes read as zeros,
  /// and the growth becomes durable with the changes around it. Nothing moves: offsets stay valid.
  func grow(toHold bytes: Int) throws(SnapshotError)
}

extension ContainerMemory {
  @inlinable @inline(__always)
  public func prepareToChange(at offset: Int, count: Int) {}

  /// Memory of a fixed size.
  @inlinable public var maximumSize: Int { size }

  @inlinable public func grow(toHold bytes: Int) throws(SnapshotError) {
    precondition(bytes <= size, "memory of a fixed size cannot grow")
  }

  /// Stores `value` over bytes that were there before this commit: announces the change, then stores.
  /// Stores into blocks allocated since the last commit use `store`.
  @inlinable @inline(__always)
  public func update<T: BitwiseCopyable>(_ value: T, at offset: Int) {
    prepareToChange(at: offset, count: MemoryLayout<T>.size)
    store(value, at: offset)
  }

  /// Copies `bytes` over bytes that were there before this commit, announcing the change first.
  @inlinable
  public func update(from bytes: UnsafeRawBufferPointer, at offset: Int) {
    prepareToChange(at: offset, count: bytes.count)
    copy(from: bytes, to: offset)
  }
}
