/// A typed reference inside a region: the byte offset of a `Pointee`, position independent, so it stays
/// valid when the region is mapped elsewhere. Offset 0 is the null reference; keep the start of a
/// region for a root or a header.
public struct PersistentOffset<Pointee: BitwiseCopyable>: BitwiseCopyable, Hashable, Sendable, CustomStringConvertible {
  /// The byte offset in the region; 0 for null.
  public var rawValue: UInt64

  @inlinable
  public init(rawValue: UInt64) {
    self.rawValue = rawValue
  }

  /// The reference to the value at `offset`.
  @inlinable
  public init(_ offset: Int) {
    precondition(offset > 0, "offset 0 is the null reference")
    rawValue = UInt64(offset)
  }

  /// The null reference.
  public static var null: PersistentOffset { PersistentOffset(rawValue: 0) }

  @inlinable
  public var isNull: Bool { rawValue == 0 }

  public var description: String { isNull ? "null" : "@\(rawValue)" }
}

extension Region {
  /// A tracked pointer to the value `offset` refers to, or nil for the null reference.
  @inlinable
  public func pointer<T: BitwiseCopyable>(to offset: PersistentOffset<T>) -> TrackedPointer<T>? {
    guard !offset.isNull, offset.rawValue <= UInt64(size) else { return nil }
    return pointer(to: T.self, at: Int(offset.rawValue))
  }
}

extension TrackedPointer {
  /// The position-independent reference to this value.
  @inlinable
  public var persistentOffset: PersistentOffset<Pointee> {
    PersistentOffset(offset)
  }
}
