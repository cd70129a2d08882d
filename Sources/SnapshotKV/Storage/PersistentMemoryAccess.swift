import Snapshot

/// Bytes at offsets, and how a store to them is made durable: the memory a heap and its containers are
/// laid out in. Offsets, never addresses, so that everything stays valid wherever the memory is mapped.
public protocol PersistentMemoryAccess {
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
}

extension PersistentMemoryAccess {
  @inlinable @inline(__always)
  public func prepareToChange(at offset: Int, count: Int) {}

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

/// A region's working copy: every store is tracked, and the region's msync commits it.
public struct RegionMemory: PersistentMemoryAccess {
  public let region: Region

  public init(region: Region) {
    self.region = region
  }

  public var size: Int { region.size }

  @inlinable @inline(__always)
  public func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T {
    region.load(T.self, at: offset)
  }

  @inlinable @inline(__always)
  public func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
    region.store(value, at: offset)
  }

  @inlinable
  public func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) {
    region.copy(from: bytes, to: offset)
  }

  @inlinable
  public func fill(_ byte: UInt8, at offset: Int, count: Int) {
    region.fill(byte, at: offset, count: count)
  }

  @inlinable
  public func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    region.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
  }
}

/// Ordinary memory (anonymous, or a file mapped shared): plain loads and stores, nothing tracked. The
/// same containers over it are the volatile baseline, or, with POSIX msync, the not crash-consistent one.
public struct PlainMemory: PersistentMemoryAccess {
  public let base: UnsafeMutableRawPointer
  public let size: Int

  public init(base: UnsafeMutableRawPointer, size: Int) {
    self.base = base
    self.size = size
  }

  @inlinable @inline(__always)
  public func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T {
    precondition(offset >= 0 && offset <= size - MemoryLayout<T>.size, "access outside the memory")
    return base.loadUnaligned(fromByteOffset: offset, as: T.self)
  }

  @inlinable @inline(__always)
  public func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
    precondition(offset >= 0 && offset <= size - MemoryLayout<T>.size, "access outside the memory")
    base.storeBytes(of: value, toByteOffset: offset, as: T.self)
  }

  @inlinable
  public func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) {
    precondition(offset >= 0 && offset <= size - bytes.count, "access outside the memory")
    guard let source = bytes.baseAddress else { return }
    (base + offset).copyMemory(from: source, byteCount: bytes.count)
  }

  @inlinable
  public func fill(_ byte: UInt8, at offset: Int, count: Int) {
    precondition(offset >= 0 && offset <= size - count, "access outside the memory")
    (base + offset).initializeMemory(as: UInt8.self, repeating: byte, count: count)
  }

  @inlinable
  public func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    precondition(offset >= 0 && offset <= size - count, "access outside the memory")
    return body(UnsafeRawBufferPointer(start: base + offset, count: count))
  }
}
