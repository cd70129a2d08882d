@_exported import Snapshot

/// Makes a struct a `PersistentStruct`: checks at compile time that every stored property is plain
/// bytes that can live in a region (no class, String, Array, Dictionary, closure or pointer), and adds
/// `persistentLayout` and `Ref`, the tracked pointer to the struct.
///
/// ```swift
/// @Persistent
/// struct Node {
///   var next: PersistentOffset<Node>
///   var value: Int64
///   var slots: InlineArray<4, UInt32>
///   var child: Child            // another @Persistent struct
/// }
///
/// let node: Node.Ref = region.pointer(to: Node.self, at: 4096)
/// node.value = 5              // stores 8 bytes, tracked
/// node.slots[2] = 9           // stores one element
/// node.child.count += 1       // stores one field of the nested struct
/// ```
///
/// Fields are reached at the offsets the compiler lays them out at, which the optimizer folds to
/// constants: a field store costs what a hand-written `region.store(_:at:)` does.
@attached(member, names: named(Ref), named(persistentLayout))
@attached(extension, conformances: PersistentStruct)
public macro Persistent() = #externalMacro(module: "SnapshotMacros", type: "PersistentMacro")
