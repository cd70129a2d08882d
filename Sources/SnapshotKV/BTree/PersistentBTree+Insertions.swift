import Snapshot

extension PersistentBTree {
  /// Stores `value` under `key`, replacing any value there. Allocates everything it needs (the record,
  /// a separator, a node for every split, a new root) before it changes anything, so
  /// `SnapshotError.regionFull` leaves the tree as it was. Nodes are changed where they lie: a put
  /// allocates nothing on the heap of the process.
  @inlinable public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SnapshotError) {
    let searchKey = SearchKey(key)
    let (leaf, position, found) = try locate(searchKey)
    if found {
      try replaceValue(slot: position, in: leaf, keyLength: key.count, with: value)
      return
    }
    guard keyCount(leaf) == Self.order else {
      // The leaf is rewritten in place: a block the heap knows as allocated, below its top, so that
      // the record's block cannot be cut from it.
      try backend.checkAllocated(leaf)
      let header = memory.load(UInt64.self, at: leaf)
      let size = 8 + key.count + value.count
      let record = try backend.allocate(size)
      try checkAllocation(record, size: size, leftAlone: leaf, header: header)
      writeRecord(at: record, key: key, value: value)
      insert(Insertion(node: leaf, position: position, slot: (searchKey.prefix, record)))
      memory.update(UInt64(truncatingIfNeeded: count &+ 1), at: root + 8)
      return
    }
    try insertSplitting(searchKey, value, leaf: leaf, position: position)
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

  /// A put into a full leaf: the leaf splits, and so does each full node above it, up to the first that
  /// is not (or a new root).
  @inlinable func insertSplitting(_ key: SearchKey, _ value: UnsafeRawBufferPointer, leaf: Int, position: Int) throws(SnapshotError) {
    let path = try self.path(to: key)
    var splits = 1
    while splits <= path.count, keyCount(path.nodes[path.count - splits]) == Self.order { splits += 1 }
    let newRoot = splits == path.count + 1
    // Every node a split rewrites is checked before anything changes: the leaf, the full inner nodes
    // that split and the one above them that takes the last separator.
    let rewritten = max(0, path.count - splits)..<path.count
    try checkContents(of: leaf)
    try backend.checkAllocated(leaf)
    for level in rewritten {
      try checkContents(of: path.nodes[level])
      try backend.checkAllocated(path.nodes[level])
    }
    let half = (Self.order + 1) / 2
    let separatorSource = half == position ? nil : slot(leaf, half < position ? half : half - 1).record
    let separatorLength = if let separatorSource { recordKeyLength(separatorSource) } else { key.bytes.count }
    var headers = InlineArray<17, UInt64>(repeating: 0)
    headers[16] = memory.load(UInt64.self, at: leaf)
    for level in rewritten { headers[level] = memory.load(UInt64.self, at: path.nodes[level]) }

    // The entry's record, the separator's, one node per split and perhaps a root.
    var fresh = InlineArray<20, Int>(repeating: 0)
    let freshCount = 2 + splits + (newRoot ? 1 : 0)
    var allocated = 0
    do throws(SnapshotError) {
      fresh[0] = try backend.allocate(8 + key.bytes.count + value.count)
      allocated = 1
      fresh[1] = try backend.allocate(8 + separatorLength)
      allocated = 2
      while allocated < freshCount {
        fresh[allocated] = try backend.allocate(Self.nodeSize)
        allocated += 1
      }
    } catch {
      for index in 0..<allocated { backend.free(fresh[index]) }
      throw error
    }
    // Sizes as asked for: the entry's record, the separator's, then nodes.
    var freshSizes = InlineArray<20, Int>(repeating: Self.nodeSize)
    freshSizes[0] = 8 + key.bytes.count + value.count
    freshSizes[1] = 8 + separatorLength
    for index in 0..<freshCount {
      let block = fresh[index], size = freshSizes[index]
      try checkAllocation(block, size: size, leftAlone: leaf, header: headers[16])
      for level in rewritten { try checkAllocation(block, size: size, leftAlone: path.nodes[level], header: headers[level]) }
      for other in 0..<index where !Self.disjoint(block, size, fresh[other], freshSizes[other]) {
        throw .storeCorrupt(offset: block, reason: "the heap handed out memory at \(block) twice")
      }
      if let source = separatorSource, !Self.disjoint(block, size, source, 8 + separatorLength) || recordKeyLength(source) != separatorLength {
        throw .storeCorrupt(offset: source, reason: "B+tree key record at \(source) in memory the heap handed out again")
      }
    }
    let record = fresh[0], separator = fresh[1]
    writeRecord(at: record, key: key.bytes, value: value)
    memory.update(UInt64(truncatingIfNeeded: count &+ 1), at: root + 8)

    // The leaf's upper half moves to a new leaf, whose first key goes up as a separator record of its own.
    let leafInsertion = Insertion(node: leaf, position: position, slot: (key.prefix, record))
    let rightLeaf = fresh[2]
    let first = leafInsertion.slot(half, in: self)
    memory.withBytes(at: first.record + 8, count: recordKeyLength(first.record)) { separatorKey in
      writeRecord(at: separator, key: separatorKey, value: UnsafeRawBufferPointer(start: nil, count: 0))
    }
    split(leafInsertion, at: half, into: rightLeaf, kind: Self.leafKind, next: memory.load(UInt64.self, at: leaf + 8))
    var carry: (slot: Slot, child: Int)? = ((first.prefix, separator), rightLeaf)
    var nextFresh = 3

    var level = rewritten.upperBound
    while level > rewritten.lowerBound {
      level -= 1
      guard let up = carry else { break }
      let parent = path.nodes[level]
      let insertion = Insertion(node: parent, position: path.childIndices[level], slot: up.slot, child: up.child)
      if keyCount(parent) < Self.order {
        insert(insertion)
        carry = nil
        break
      }
      // The middle key goes up; the keys and children after it move to a new sibling.
      let middle = (Self.order + 1) / 2
      let sibling = fresh[nextFresh]
      nextFresh += 1
      carry = (insertion.slot(middle, in: self), sibling)
      split(insertion, at: middle, into: sibling, kind: Self.innerKind, next: 0)
    }
    if let up = carry {
      // The root and the height were checked by `locate`.
      let newRootNode = fresh[nextFresh]
      memory.prepareToChange(at: newRootNode, count: Self.childField(newRootNode, 2) - newRootNode)
      writeHeader(of: newRootNode, kind: Self.innerKind, keyCount: 1, next: 0)
      write(up.slot, to: newRootNode, 0)
      memory.store(memory.load(UInt64.self, at: root), at: Self.childField(newRootNode, 0))
      memory.store(UInt64(up.child), at: Self.childField(newRootNode, 1))
      memory.update(UInt64(newRootNode), at: root)
      memory.update(memory.load(UInt64.self, at: root + 24) + 1, at: root + 24)
    }
  }

  // MARK: Changing nodes in place

  /// Throws unless the allocation of `size` bytes at `block` lies apart from `node` and left its header
  /// word (kind and key count) as `header`, read before allocating. The node was checked to be an
  /// allocated block below the heap's top, which a heap that hands out only free memory cannot cut a
  /// block from; a damaged heap still can (a large free block whose size was changed): the change then
  /// throws before it writes, where it would otherwise shift the node's slots by a key count that its
  /// own new record overwrote. That allocation stays made, uncommitted.
  @inlinable func checkAllocation(_ block: Int, size: Int, leftAlone node: Int, header: UInt64) throws(SnapshotError) {
    guard Self.disjoint(block, size, node, Self.nodeSize), memory.load(UInt64.self, at: node) == header else {
      throw .storeCorrupt(offset: node, reason: "B+tree node at \(node) in memory the heap handed out again")
    }
  }

  /// Whether `size` bytes at `block` and `otherSize` bytes at `other` share no byte.
  @inlinable static func disjoint(_ block: Int, _ size: Int, _ other: Int, _ otherSize: Int) -> Bool {
    block >= other + otherSize || other >= block + size
  }

  /// A node's slots (and children) as they are once `slot` (and `child`, right of it) is inserted at
  /// `position`: what an insertion writes, read from the node as it still is.
  @usableFromInline struct Insertion {
    @usableFromInline let node: Int
    @usableFromInline let position: Int
    @usableFromInline let inserted: Slot
    /// The child right of the inserted key, in an inner node; nil in a leaf.
    @usableFromInline let child: Int?

    @inlinable init(node: Int, position: Int, slot: Slot, child: Int? = nil) {
      (self.node, self.position, self.inserted, self.child) = (node, position, slot, child)
    }

    /// The number of keys with the insertion.
    @inlinable func keyCount(in tree: PersistentBTree) -> Int { tree.keyCount(node) + 1 }

    @inlinable func slot(_ index: Int, in tree: PersistentBTree) -> Slot {
      index < position ? tree.slot(node, index) : index == position ? inserted : tree.slot(node, index - 1)
    }

    @inlinable func child(_ index: Int, in tree: PersistentBTree) -> Int {
      index <= position ? tree.child(node, index) : index == position + 1 ? child! : tree.child(node, index - 1)
    }
  }

  /// Writes `insertion` into its node, which has room for it: the slots (and children) right of the
  /// position shift by one.
  @inlinable func insert(_ insertion: Insertion) {
    let node = insertion.node, keys = insertion.keyCount(in: self)
    memory.prepareToChange(at: node, count: end(of: node, keys: keys, inner: insertion.child != nil) - node)
    move(insertion, insertion.position..<keys, to: node, at: insertion.position)
    memory.store(UInt32(keys), at: node + 4)
  }

  /// Splits the node of `insertion`, which is full: the keys from `index` on move to the fresh node
  /// `right` (in an inner node, the key at `index` goes up instead and the children after it move),
  /// and the node keeps the ones before `index`. The caller reads what goes up before the split.
  @inlinable func split(_ insertion: Insertion, at index: Int, into right: Int, kind: UInt32, next: UInt64) {
    let node = insertion.node, keys = insertion.keyCount(in: self), inner = insertion.child != nil
    let moved = inner ? index + 1 : index
    // The new node first: it reads slots that the node's own shift overwrites.
    memory.prepareToChange(at: right, count: end(of: right, keys: keys - moved, inner: inner) - right)
    writeHeader(of: right, kind: kind, keyCount: keys - moved, next: next)
    move(insertion, moved..<keys, to: right, at: 0)
    memory.prepareToChange(at: node, count: end(of: node, keys: index, inner: inner) - node)
    if insertion.position < index { move(insertion, insertion.position..<index, to: node, at: insertion.position) }
    memory.store(UInt32(index), at: node + 4)
    if !inner { memory.store(UInt64(right), at: node + 8) }
  }

  /// Writes the slots `range` of `insertion` (and, in an inner node, the children right of them) to
  /// `node` from slot `first` on. The last slot is written first, so that a node shifting its own slots
  /// right reads each before it is overwritten.
  @inlinable func move(_ insertion: Insertion, _ range: Range<Int>, to node: Int, at first: Int) {
    let shift = first - range.lowerBound
    var index = range.upperBound
    while index > range.lowerBound {
      index -= 1
      write(insertion.slot(index, in: self), to: node, index + shift)
    }
    guard insertion.child != nil else { return }
    // Children: the one left of the first key moved too when the keys go to a new node.
    let lowest = first == 0 && node != insertion.node ? range.lowerBound : range.lowerBound + 1
    index = range.upperBound + 1
    while index > lowest {
      index -= 1
      memory.store(UInt64(insertion.child(index, in: self)), at: Self.childField(node, index + shift))
    }
  }

  /// The end of the bytes a change of a node with `keys` keys writes: its header, every prefix, its
  /// records and, in an inner node, its children.
  @inlinable func end(of node: Int, keys: Int, inner: Bool) -> Int {
    inner ? Self.childField(node, keys + 1) : Self.recordField(node, keys)
  }

  // MARK: The way down

  /// The inner nodes on the way down to a key's leaf, each with the index of the child taken.
  @usableFromInline struct Path {
    @usableFromInline var nodes = InlineArray<16, Int>(repeating: 0)
    @usableFromInline var childIndices = InlineArray<16, Int>(repeating: 0)
    @usableFromInline var count = 0

    @inlinable init() {}
  }

  @inlinable func path(to key: SearchKey) throws(SnapshotError) -> Path {
    let height = try self.height()
    var node = try node(at: root, kind: height == 1 ? Self.leafKind : Self.innerKind)
    var path = Path()
    for level in 1..<height {
      let index = try upperBound(key, in: node)
      path.nodes[path.count] = node
      path.childIndices[path.count] = index
      path.count += 1
      node = try self.node(at: Self.childField(node, index), kind: level + 1 == height ? Self.leafKind : Self.innerKind)
    }
    return path
  }
}
