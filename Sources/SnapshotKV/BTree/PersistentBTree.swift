import Snapshot

/// A B+tree of byte keys to byte values, laid out in a backend's memory: ordered, with range scans.
/// Every change goes through the backend's stores, so on a region it commits atomically at msync.
///
/// Root record (32 bytes): root node, entry count, first leaf, height. Node (one allocation): kind (4),
/// key count (4), next leaf (8), then 30 16-byte key prefixes (high half, low half), 30 key records
/// and, in inner nodes, 31 children: 984 bytes, so that a node and its block header fill a 1 KiB block.
/// Keys of up to 16 bytes are ordered by their prefixes alone, without reading their records.
/// A key record is key length (4), value length (4), the key, the value; leaves point to their entries'
/// records, inner nodes to separator records of their own (key only), so that freeing an entry never
/// frees a separator. Deletion removes entries without merging nodes.
///
/// Every structural field is checked before it is used (node offsets, kinds and key counts, record
/// offsets and lengths, the height, the leaf chain's length): a store whose bytes were changed outside
/// the library throws `SnapshotError.storeCorrupt` before anything is changed, and never traps.
public struct PersistentBTree<Backend: PersistenceBackend> {
  public let backend: Backend
  /// Where the root record lives.
  public let root: Int

  @inlinable static var order: Int { 30 }
  @inlinable static var nodeSize: Int { 16 + 24 * order + 8 * (order + 1) }
  @inlinable static var leafKind: UInt32 { 1 }
  @inlinable static var innerKind: UInt32 { 2 }
  /// No tree is taller: a node other than the root holds at least 15 keys, so height 16 would take
  /// more than 15^14 nodes.
  @inlinable static var maximumHeight: Int { 16 }

  /// The backend's memory, held here so that a load does not go through the backend object.
  @usableFromInline let memory: Backend.Memory
  /// The number of entries.
  @inlinable public var count: Int { Int(truncatingIfNeeded: memory.load(UInt64.self, at: root + 8)) }

  @inlinable public init(backend: Backend, root: Int) {
    self.backend = backend
    memory = backend.memory
    self.root = root
  }

  /// Creates an empty tree: one empty leaf.
  @inlinable public static func create(in backend: Backend) throws(SnapshotError) -> PersistentBTree {
    let root = try backend.allocate(32)
    let leaf: Int
    do { leaf = try backend.allocate(nodeSize) } catch {
      backend.free(root)
      throw error
    }
    let tree = PersistentBTree(backend: backend, root: root)
    tree.write(Node(kind: leafKind, next: 0, keys: [], children: []), at: leaf)
    backend.memory.store(UInt64(leaf), at: root)
    backend.memory.store(UInt64(0), at: root + 8)
    backend.memory.store(UInt64(leaf), at: root + 16)
    backend.memory.store(UInt64(1), at: root + 24)
    return tree
  }

  /// A node read into ordinary memory, to be changed and written back.
  @usableFromInline struct Node {
    @usableFromInline var kind: UInt32
    @usableFromInline var next: UInt64
    @usableFromInline var keys: [(prefix: KeyPrefix, record: Int)]
    @usableFromInline var children: [Int]

    @inlinable init(kind: UInt32, next: UInt64, keys: [(prefix: KeyPrefix, record: Int)], children: [Int]) {
      (self.kind, self.next, self.keys, self.children) = (kind, next, keys, children)
    }
  }

  // MARK: Reading

  /// The value stored under `key`, read by `body`; nil when there is none.
  @inlinable public func withValue<R>(for key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) throws(SnapshotError) -> R? {
    guard let value = try valueRange(for: key) else { return nil }
    return memory.withBytes(at: value.lowerBound, count: value.count, body)
  }

  /// Where the value stored under `key` lives in the backend's memory; nil when there is none. Its
  /// bytes may be overwritten in place (with `update`, announcing the change) until the next change
  /// to the tree.
  @inlinable public func valueRange(for key: UnsafeRawBufferPointer) throws(SnapshotError) -> Range<Int>? {
    let (leaf, slot, found) = try locate(SearchKey(key))
    guard found else { return nil }
    let record = try recordOffset(leaf, slot)
    let start = record + 8 + recordKeyLength(record)
    return start..<start + recordValueLength(record)
  }

  /// Calls `body` with up to `limit` entries in key order, from the first key not less than `start`;
  /// `body` returns false to stop early.
  @inlinable public func scan(
    from start: UnsafeRawBufferPointer, limit: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool
  ) throws(SnapshotError) {
    var (leaf, position, _) = try locate(SearchKey(start))
    var remaining = limit
    // Leaves may be empty (deletion does not merge), so the chain is bounded by how many nodes fit.
    var hops = memory.size / Self.nodeSize
    while remaining > 0, leaf != 0 {
      if position >= keyCount(leaf) {
        hops -= 1
        guard hops >= 0 else { throw .storeCorrupt(offset: leaf + 8, reason: "the B+tree's leaf chain loops") }
        leaf = try node(at: leaf + 8, kind: Self.leafKind, optional: true)
        position = 0
        continue
      }
      let record = try recordOffset(leaf, position)
      let keyLength = recordKeyLength(record)
      let goOn = memory.withBytes(at: record + 8, count: keyLength + recordValueLength(record)) { bytes in
        body(UnsafeRawBufferPointer(rebasing: bytes[..<keyLength]), UnsafeRawBufferPointer(rebasing: bytes[keyLength...]))
      }
      guard goOn else { return }
      remaining -= 1
      position += 1
    }
  }

  // MARK: Changing

  /// Stores `value` under `key`, replacing any value there. Allocates everything it needs (the record,
  /// a separator, a node for every split, a new root) before it changes anything, so
  /// `SnapshotError.regionFull` leaves the tree as it was.
  @inlinable public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SnapshotError) {
    let searchKey = SearchKey(key)
    let (leaf, position, found) = try locate(searchKey)
    if found {
      try replaceValue(slot: position, in: leaf, keyLength: key.count, with: value)
      return
    }
    // The leaf splits when full, and so does each full node above it, up to the first that is not.
    let path = keyCount(leaf) < Self.order ? [] : try self.path(to: searchKey)
    let splits = keyCount(leaf) < Self.order ? 0 : 1 + path.reversed().prefix { keyCount($0.node) == Self.order }.count
    let newRoot = splits > 0 && splits == path.count + 1
    var leafNode = try read(leaf)
    // Every inner node a split rewrites is read (and so checked) before anything changes: the full
    // ones that split and the one above them that takes the last separator.
    let rewritten = path.suffix(splits)
    var parents: [Node] = []
    for (parent, _) in rewritten { parents.append(try read(parent)) }
    leafNode.keys.insert((searchKey.prefix, 0), at: position)
    let half = leafNode.keys.count / 2
    let separatorLength = splits > 0 ? (half == position ? key.count : recordKeyLength(leafNode.keys[half].record)) : 0

    var fresh: [Int] = []
    do throws(SnapshotError) {
      fresh.append(try backend.allocate(8 + key.count + value.count))
      if splits > 0 { fresh.append(try backend.allocate(8 + separatorLength)) }
      for _ in 0..<(splits + (newRoot ? 1 : 0)) { fresh.append(try backend.allocate(Self.nodeSize)) }
    } catch {
      for block in fresh { backend.free(block) }
      throw error
    }
    let record = fresh[0]
    writeRecord(at: record, key: key, value: value)
    leafNode.keys[position].record = record
    memory.update(UInt64(truncatingIfNeeded: count &+ 1), at: root + 8)
    guard splits > 0 else {
      write(leafNode, at: leaf, from: position)
      return
    }

    // The leaf splits; the right half's first key goes up as a separator record of its own.
    var nodes = fresh[2...].makeIterator()
    let rightLeaf = nodes.next()!
    let right = Node(kind: Self.leafKind, next: leafNode.next, keys: Array(leafNode.keys[half...]), children: [])
    leafNode.keys.removeSubrange(half...)
    leafNode.next = UInt64(rightLeaf)
    let separator = fresh[1]
    let first = right.keys[0]
    memory.withBytes(at: first.record + 8, count: recordKeyLength(first.record)) { separatorKey in
      writeRecord(at: separator, key: separatorKey, value: UnsafeRawBufferPointer(start: nil, count: 0))
    }
    write(leafNode, at: leaf)
    write(right, at: rightLeaf)
    var carry: (key: (prefix: KeyPrefix, record: Int), child: Int)? = ((first.prefix, separator), rightLeaf)

    for ((parent, childIndex), contents) in zip(rewritten, parents).reversed() {
      guard let up = carry else { break }
      var node = contents
      node.keys.insert(up.key, at: childIndex)
      node.children.insert(up.child, at: childIndex + 1)
      if node.keys.count <= Self.order {
        write(node, at: parent)
        carry = nil
        break
      }
      let middle = node.keys.count / 2
      let rightInner = nodes.next()!
      let sibling = Node(
        kind: Self.innerKind, next: 0, keys: Array(node.keys[(middle + 1)...]), children: Array(node.children[(middle + 1)...]))
      carry = (node.keys[middle], rightInner)
      node.keys.removeSubrange(middle...)
      node.children.removeSubrange((middle + 1)...)
      write(node, at: parent)
      write(sibling, at: rightInner)
    }
    if let up = carry {
      // The root and the height were checked by `locate`.
      let newRootNode = nodes.next()!
      let oldRoot = Int(memory.load(UInt64.self, at: root))
      write(Node(kind: Self.innerKind, next: 0, keys: [up.key], children: [oldRoot, up.child]), at: newRootNode)
      memory.update(UInt64(newRootNode), at: root)
      memory.update(memory.load(UInt64.self, at: root + 24) + 1, at: root + 24)
    }
  }

  /// Removes the entry for `key`; returns whether there was one.
  @discardableResult
  @inlinable public func remove(_ key: UnsafeRawBufferPointer) throws(SnapshotError) -> Bool {
    let (leaf, position, found) = try locate(SearchKey(key))
    guard found else { return false }
    var node = try read(leaf)
    let record = node.keys.remove(at: position).record
    try backend.checkAllocated(record)
    write(node, at: leaf, from: position)
    backend.free(record)
    memory.update(UInt64(truncatingIfNeeded: count &- 1), at: root + 8)
    return true
  }

  /// A value of the same length is overwritten in place; any other gets a new record.
  @inlinable func replaceValue(slot: Int, in leaf: Int, keyLength: Int, with value: UnsafeRawBufferPointer) throws(SnapshotError) {
    let record = try recordOffset(leaf, slot)
    if recordValueLength(record) == value.count {
      memory.update(from: value, at: record + 8 + keyLength)
      return
    }
    try backend.checkAllocated(record)
    let replacement = try backend.allocate(8 + keyLength + value.count)
    memory.withBytes(at: record + 8, count: keyLength) { key in writeRecord(at: replacement, key: key, value: value) }
    memory.update(UInt64(replacement), at: Self.recordField(leaf, slot))
    backend.free(record)
  }

  // MARK: Layout

  /// A key being searched for, with its prefix computed once.
  @usableFromInline struct SearchKey {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline let prefix: KeyPrefix

    @inlinable init(_ bytes: UnsafeRawBufferPointer) {
      self.bytes = bytes
      prefix = KeyPrefix(bytes)
    }
  }

  /// Where `key` is, or would go: its leaf, the slot there, and whether the key is in that slot.
  @inlinable func locate(_ key: SearchKey) throws(SnapshotError) -> (leaf: Int, slot: Int, found: Bool) {
    let height = try self.height()
    var node = try node(at: root, kind: height == 1 ? Self.leafKind : Self.innerKind)
    for level in 1..<height {
      let index = try upperBound(key, in: node)
      node = try self.node(at: Self.childField(node, index), kind: level + 1 == height ? Self.leafKind : Self.innerKind)
    }
    let slot = try lowerBound(key, in: node)
    guard slot < keyCount(node) else { return (node, slot, false) }
    return (node, slot, try compare(key, withKeyAt: slot, in: node) == 0)
  }

  /// The inner nodes on the way down to `key`'s leaf, each with the index of the child taken.
  @inlinable func path(to key: SearchKey) throws(SnapshotError) -> [(node: Int, childIndex: Int)] {
    let height = try self.height()
    var node = try node(at: root, kind: height == 1 ? Self.leafKind : Self.innerKind)
    var path: [(node: Int, childIndex: Int)] = []
    for level in 1..<height {
      let index = try upperBound(key, in: node)
      path.append((node, index))
      node = try self.node(at: Self.childField(node, index), kind: level + 1 == height ? Self.leafKind : Self.innerKind)
    }
    return path
  }

  /// The first slot whose key is not less than `key`.
  @inlinable func lowerBound(_ key: SearchKey, in node: Int) throws(SnapshotError) -> Int {
    var low = 0, high = keyCount(node)
    while low < high {
      let middle = (low + high) / 2
      if try compare(key, withKeyAt: middle, in: node) > 0 { low = middle + 1 } else { high = middle }
    }
    return low
  }

  /// The first slot whose key is greater than `key`: the child to descend into.
  @inlinable func upperBound(_ key: SearchKey, in node: Int) throws(SnapshotError) -> Int {
    var low = 0, high = keyCount(node)
    while low < high {
      let middle = (low + high) / 2
      if try compare(key, withKeyAt: middle, in: node) >= 0 { low = middle + 1 } else { high = middle }
    }
    return low
  }

  /// Orders `key` against the key in `slot`: by the 16-byte prefixes first, by the bytes if those tie.
  @inlinable func compare(_ key: SearchKey, withKeyAt slot: Int, in node: Int) throws(SnapshotError) -> Int {
    let order = key.prefix.compare(prefix(node, slot))
    if order != 0 { return order }
    let record = try recordOffset(node, slot)
    return memory.withBytes(at: record + 8, count: recordKeyLength(record)) { compareBytes(key.bytes, $0) }
  }

  /// The tree's height, checked.
  @inlinable func height() throws(SnapshotError) -> Int {
    let height = try memory.loadCount(at: root + 24, maximum: Self.maximumHeight, "B+tree height")
    guard height > 0 else { throw .storeCorrupt(offset: root + 24, reason: "B+tree height 0") }
    return height
  }

  /// The node whose offset the field at `field` holds, checked: inside the store, of the `kind`
  /// expected at its depth, with at most `order` keys. With `optional`, 0 (no node) is accepted.
  @inlinable func node(at field: Int, kind: UInt32, optional: Bool = false) throws(SnapshotError) -> Int {
    let node = optional
      ? try memory.loadOptionalAllocation(at: field, length: Self.nodeSize, "B+tree node")
      : try memory.loadAllocation(at: field, length: Self.nodeSize, "B+tree node")
    guard node != 0 else { return 0 }
    let found = memory.load(UInt32.self, at: node)
    guard found == kind else {
      throw .storeCorrupt(offset: node, reason: "B+tree node of kind \(found) where kind \(kind) belongs")
    }
    guard keyCount(node) <= Self.order else {
      throw .storeCorrupt(offset: node + 4, reason: "B+tree node with \(keyCount(node)) keys, more than \(Self.order)")
    }
    return node
  }

  /// The key record of `slot`, checked to lie, with its key and value, inside the store.
  @inlinable func recordOffset(_ node: Int, _ slot: Int) throws(SnapshotError) -> Int {
    let record = try memory.loadAllocation(at: Self.recordField(node, slot), length: 8, "B+tree key record")
    guard recordKeyLength(record) + recordValueLength(record) <= memory.size - record - 8 else {
      throw .storeCorrupt(offset: record, reason: "B+tree key record whose lengths run past the end of the store")
    }
    return record
  }

  @inlinable func keyCount(_ node: Int) -> Int { Int(memory.load(UInt32.self, at: node + 4)) }
  @inlinable func prefix(_ node: Int, _ slot: Int) -> KeyPrefix {
    KeyPrefix(high: memory.load(UInt64.self, at: Self.prefixField(node, slot)), low: memory.load(UInt64.self, at: Self.prefixField(node, slot) + 8))
  }
  /// Where a slot's prefix (its high half, then its low half), record and child live.
  @inlinable static func prefixField(_ node: Int, _ slot: Int) -> Int { node + 16 + 16 * slot }
  @inlinable static func recordField(_ node: Int, _ slot: Int) -> Int { node + 16 + 16 * order + 8 * slot }
  @inlinable static func childField(_ node: Int, _ index: Int) -> Int { node + 16 + 24 * order + 8 * index }
  @inlinable func recordKeyLength(_ record: Int) -> Int { Int(memory.load(UInt32.self, at: record)) }
  @inlinable func recordValueLength(_ record: Int) -> Int { Int(memory.load(UInt32.self, at: record + 4)) }

  @inlinable func writeRecord(at record: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
    memory.store(UInt32(key.count), at: record)
    memory.store(UInt32(value.count), at: record + 4)
    memory.copy(from: key, to: record + 8)
    memory.copy(from: value, to: record + 8 + key.count)
  }

  /// The node at `offset` (checked by `node(at:kind:)`), its key records and children checked too.
  @inlinable func read(_ offset: Int) throws(SnapshotError) -> Node {
    let kind = memory.load(UInt32.self, at: offset)
    let count = keyCount(offset)
    var keys: [(prefix: KeyPrefix, record: Int)] = []
    keys.reserveCapacity(count + 1)
    for slot in 0..<count { keys.append((prefix(offset, slot), try recordOffset(offset, slot))) }
    var children: [Int] = []
    if kind == Self.innerKind {
      children.reserveCapacity(count + 2)
      for index in 0...count {
        children.append(try memory.loadAllocation(at: Self.childField(offset, index), length: Self.nodeSize, "B+tree node"))
      }
    }
    return Node(kind: kind, next: memory.load(UInt64.self, at: offset + 8), keys: keys, children: children)
  }

  /// Writes a node's header and its slots from `first` on (its keys and, in inner nodes, its children),
  /// announcing the bytes from the header to the last slot written. Slots before `first` must be
  /// unchanged since the node was read: an insertion or removal rewrites only the slots it shifts.
  @inlinable func write(_ node: Node, at offset: Int, from first: Int = 0) {
    precondition(node.keys.count <= Self.order)
    let end = node.children.isEmpty ? Self.recordField(offset, node.keys.count) : Self.childField(offset, node.children.count)
    memory.prepareToChange(at: offset, count: end - offset)
    memory.store(node.kind, at: offset)
    memory.store(UInt32(node.keys.count), at: offset + 4)
    memory.store(node.next, at: offset + 8)
    for slot in first..<max(first, node.keys.count) {
      let key = node.keys[slot]
      memory.store(key.prefix.high, at: Self.prefixField(offset, slot))
      memory.store(key.prefix.low, at: Self.prefixField(offset, slot) + 8)
      memory.store(UInt64(key.record), at: Self.recordField(offset, slot))
    }
    for slot in first..<max(first, node.children.count) {
      memory.store(UInt64(node.children[slot]), at: Self.childField(offset, slot))
    }
  }

  // MARK: Invariants

  /// Checks the tree: keys in order within and across nodes, every key of a subtree within its
  /// separators, prefixes matching keys, every node reached once, all leaves at the same depth and
  /// chained in order, and the entry count. Returns how many allocations the tree owns (root record,
  /// nodes, entry and separator records), for a leak check against the heap.
  @discardableResult
  public func check() throws(SnapshotError) -> Int {
    var leaves: [Int] = []
    var visited = Set<Int>()
    var allocations = 1
    let height = try self.height()
    func corrupt(_ offset: Int, _ reason: String) -> SnapshotError { .storeCorrupt(offset: offset, reason: reason) }
    func key(_ record: Int) -> [UInt8] {
      memory.withBytes(at: record + 8, count: recordKeyLength(record)) { Array($0) }
    }
    func check(_ field: Int, depth: Int, lower: [UInt8]?, upper: [UInt8]?) throws(SnapshotError) {
      let node = try self.node(at: field, kind: depth == height ? Self.leafKind : Self.innerKind)
      guard visited.insert(node).inserted else { throw corrupt(field, "B+tree node \(node) is reached twice") }
      let contents = try read(node)
      allocations += 1 + contents.keys.count
      var previous: [UInt8]?
      for entry in contents.keys {
        let bytes = key(entry.record)
        guard bytes.withUnsafeBytes(KeyPrefix.init) == entry.prefix else { throw corrupt(node, "a key prefix does not match its key") }
        if let previous, !previous.lexicographicallyPrecedes(bytes) { throw corrupt(node, "B+tree keys out of order") }
        if let lower, bytes.lexicographicallyPrecedes(lower) { throw corrupt(node, "a B+tree key below its subtree") }
        if let upper, !bytes.lexicographicallyPrecedes(upper) { throw corrupt(node, "a B+tree key above its subtree") }
        previous = bytes
      }
      if contents.kind == Self.leafKind {
        leaves.append(node)
        return
      }
      for index in contents.children.indices {
        try check(Self.childField(node, index), depth: depth + 1,
                  lower: index == 0 ? lower : key(contents.keys[index - 1].record),
                  upper: index == contents.keys.count ? upper : key(contents.keys[index].record))
      }
    }
    try check(root, depth: 1, lower: nil, upper: nil)
    var chained: [Int] = []
    var leaf = try node(at: root + 16, kind: Self.leafKind)
    while leaf != 0, chained.count <= leaves.count {
      chained.append(leaf)
      leaf = try node(at: leaf + 8, kind: Self.leafKind, optional: true)
    }
    guard chained == leaves else { throw corrupt(root + 16, "the B+tree's leaf chain does not follow the tree") }
    let entries = leaves.reduce(0) { $0 + keyCount($1) }
    guard entries == count else { throw corrupt(root + 8, "the B+tree counts \(count) entries and holds \(entries)") }
    return allocations
  }
}
