/// Ordinary memory (anonymous, or a file mapped shared): plain loads and stores, nothing tracked. The
/// same containers over it are the volatile baseline, or, with POSIX msync, the not crash-consistent one.
public struct PlainMemory: ContainerMemory {
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
