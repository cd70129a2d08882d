/// A struct laid out to live in a region: every stored property is plain bytes at a fixed offset.
///
/// The `@Persistent` macro (product `SnapshotPersistent`) adds this conformance after checking each
/// stored property, and a `persistentLayout` describing the fields. Through a `TrackedPointer`, a field
/// that is itself a `PersistentStruct` is reached as a tracked pointer (`node.child.value = 3` stores
/// eight bytes, not the whole child), and a fixed-size array field as tracked elements.
public protocol PersistentStruct: BitwiseCopyable {
  /// The fields' names, types, offsets and sizes, for checking that a file was written with the same
  /// layout.
  static var persistentLayout: PersistentLayout { get }
}

/// The layout of a persistent struct: what a file written with it depends on.
///
/// Reordering, removing, renaming or retyping a stored property changes it, and so does adding one
/// anywhere (even at the end: the size and stride change, and with them every array of the struct).
/// Store `fingerprint` next to your data and compare it when you open the region.
public struct PersistentLayout: Sendable, Equatable, CustomStringConvertible {
  /// One stored property.
  public struct Field: Sendable, Equatable {
    public var name: String
    public var type: String
    public var offset: Int
    public var size: Int

    public init(name: String, type: String, offset: Int, size: Int) {
      self.name = name
      self.type = type
      self.offset = offset
      self.size = size
    }
  }

  public var type: String
  public var fields: [Field]
  public var size: Int
  public var stride: Int
  public var alignment: Int

  public init(type: String, fields: [Field], size: Int, stride: Int, alignment: Int) {
    self.type = type
    self.fields = fields
    self.size = size
    self.stride = stride
    self.alignment = alignment
  }

  /// The layout of `T` with the given stored properties, as the `@Persistent` macro lists them.
  public init<T>(of type: T.Type, fields: [FieldSpecification<T>]) {
    self.init(
      type: String(describing: T.self),
      fields: fields.map { Field(name: $0.name, type: $0.type, offset: $0.offset, size: $0.size) },
      size: MemoryLayout<T>.size, stride: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
  }

  /// One stored property of a `T`. Only plain bytes (`BitwiseCopyable`) can live in a region: for any
  /// other field type, this is where the compiler says so.
  public struct FieldSpecification<T> {
    let name: String
    let type: String
    let offset: Int
    let size: Int

    public init<Value: BitwiseCopyable>(_ name: String, _ type: Value.Type, _ path: KeyPath<T, Value>) {
      self.name = name
      self.type = String(describing: Value.self)
      self.offset = MemoryLayout<T>.offset(of: path) ?? -1
      self.size = MemoryLayout<Value>.size
    }
  }

  /// A CRC32C over the description: equal layouts, equal fingerprints.
  public var fingerprint: UInt32 {
    CRC32C.checksum(Array(description.utf8).withUnsafeBytes { UnsafeRawBufferPointer($0) })
  }

  public var description: String {
    "\(type) size \(size) stride \(stride) alignment \(alignment): "
      + fields.map { "\($0.name): \($0.type) @\($0.offset)+\($0.size)" }.joined(separator: ", ")
  }
}

