import Snapshot

/// A region's working copy: every store is tracked, and the region's msync commits it.
public struct RegionMemory: ContainerMemory {
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
