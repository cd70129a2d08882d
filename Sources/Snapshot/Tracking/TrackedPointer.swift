/// A typed reference to a value in a region's working copy whose stores are tracked.
///
/// Stored properties of the pointee are reached as members: `node.value = 5` stores into the field
/// at its constant offset and marks its line dirty. In optimized builds a literal key path folds to
/// that constant offset, so a member store costs what a hand-written `store(_:at:)` does.
///
/// ```swift
/// struct Account { var id: UInt64; var balance: Int64 }
/// let account = region.pointer(to: Account.self, at: 4096)
/// account.balance -= 100
/// ```
///
/// A tracked pointer holds its region and an offset; it is valid as long as the region is open. Only
/// the offset means anything across runs: keep offsets, not pointers, inside a region.
@dynamicMemberLookup
public struct TrackedPointer<Pointee: BitwiseCopyable> {
  /// The region the value lives in.
  public let region: Region
  /// The value's byte offset in the region.
  public let offset: Int

  @inlinable
  init(region: Region, offset: Int) {
    self.region = region
    self.offset = offset
  }

  /// The whole value.
  @inlinable
  public var pointee: Pointee {
    @inline(__always) get { region.load(Pointee.self, at: offset) }
    @inline(__always) nonmutating set { region.store(newValue, at: offset) }
  }

  /// A stored property of the value.
  @inlinable
  public subscript<Field: BitwiseCopyable>(dynamicMember field: WritableKeyPath<Pointee, Field>) -> Field {
    @inline(__always) get { region.load(Field.self, at: offset + Self._offset(of: field)) }
    @inline(__always) nonmutating set { region.store(newValue, at: offset + Self._offset(of: field)) }
  }

  /// A tracked pointer to a stored property of the value, for nested structures.
  @inlinable
  public func pointer<Field: BitwiseCopyable>(to field: WritableKeyPath<Pointee, Field>) -> TrackedPointer<Field> {
    TrackedPointer<Field>(region: region, offset: offset + Self._offset(of: field))
  }

  /// The pointer `count` values further on, as for an array of `Pointee` in the region.
  @inlinable
  public func advanced(by count: Int) -> TrackedPointer<Pointee> {
    let target = offset + count * MemoryLayout<Pointee>.stride
    region._checkBounds(offset: target, count: MemoryLayout<Pointee>.size)
    return TrackedPointer(region: region, offset: target)
  }

  /// The `index`th value of an array of `Pointee` starting here.
  @inlinable
  public subscript(index: Int) -> Pointee {
    @inline(__always) get { region.load(Pointee.self, at: offset + index * MemoryLayout<Pointee>.stride) }
    @inline(__always) nonmutating set { region.store(newValue, at: offset + index * MemoryLayout<Pointee>.stride) }
  }

  @inlinable @inline(__always)
  static func _offset<Field>(of field: WritableKeyPath<Pointee, Field>) -> Int {
    guard let offset = MemoryLayout<Pointee>.offset(of: field) else {
      preconditionFailure("\(field) is not a stored property of \(Pointee.self)")
    }
    return offset
  }
}
