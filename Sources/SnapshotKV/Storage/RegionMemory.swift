import Snapshot

/// A region's working copy: every store is tracked, and the region's msync commits it.
public struct RegionMemory: ContainerMemory {
  public let region: Region

  public init(region: Region) {
    self.region = region
  }

  public var size: Int { region.size }

  /// What the region's handle lets it grow to; its size when it cannot grow (the undo journal).
  public var maximumSize: Int { region.canGrow ? region.maximumSize : region.size }

  /// The least a region grows by at once.
  public static var smallestGrowth: Int { 1 << 20 }

  /// Grows the region to hold `bytes`, by at least an eighth of its size (and `smallestGrowth`), up to
  /// its maximum: the region stays within an eighth of what it holds, and a store that fills up grows
  /// it a logarithmic number of times, each a commit with a checkpoint before it. The growth commits
  /// with the next msync, atomically with the allocation that needed it.
  public func grow(toHold bytes: Int) throws(SnapshotError) {
    let step = max(region.size / 8, Self.smallestGrowth)
    try region.grow(to: min(max(bytes, region.size + step), maximumSize))
  }

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
