/// A tracked view of `count` consecutive values in a region: a fixed-size array field of a persistent
/// struct. Storing one element stores only its bytes.
public struct TrackedElements<Element: BitwiseCopyable> {
  public let region: Region
  /// The first element's byte offset.
  public let offset: Int
  public let count: Int

  @inlinable
  init(region: Region, offset: Int, count: Int) {
    self.region = region
    self.offset = offset
    self.count = count
  }

  /// The element at `index`; traps outside `0..<count`, as an array subscript does.
  @inlinable
  public subscript(index: Int) -> Element {
    @inline(__always) get {
      precondition(index >= 0 && index < count, "index out of range")
      return region.load(Element.self, at: offset + index * MemoryLayout<Element>.stride)
    }
    @inline(__always) nonmutating set {
      precondition(index >= 0 && index < count, "index out of range")
      region.store(newValue, at: offset + index * MemoryLayout<Element>.stride)
    }
  }

  /// A tracked pointer to the element at `index`.
  @inlinable
  public func pointer(at index: Int) -> TrackedPointer<Element> {
    precondition(index >= 0 && index < count, "index out of range")
    return TrackedPointer(region: region, offset: offset + index * MemoryLayout<Element>.stride)
  }
}

extension TrackedPointer {
  /// A stored property that is itself a persistent struct, as a tracked pointer: `node.child.value = 3`
  /// stores the one field.
  @inlinable
  public subscript<Field: PersistentStruct>(dynamicMember field: WritableKeyPath<Pointee, Field>) -> TrackedPointer<Field> {
    @inline(__always) get { TrackedPointer<Field>(region: region, offset: offset + Self._offset(of: field)) }
  }

  /// A fixed-size array property, as tracked elements: `node.slots[3] = 7` stores the one element.
  @inlinable
  public subscript<let count: Int, Element: BitwiseCopyable>(
    dynamicMember field: WritableKeyPath<Pointee, InlineArray<count, Element>>
  ) -> TrackedElements<Element> {
    @inline(__always) get { TrackedElements(region: region, offset: offset + Self._offset(of: field), count: count) }
  }
}
