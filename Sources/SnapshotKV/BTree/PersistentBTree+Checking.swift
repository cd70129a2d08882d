import Snapshot

extension PersistentBTree {
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
      try checkContents(of: node)
      let keys = keyCount(node)
      allocations += 1 + keys
      var previous: [UInt8]?
      for index in 0..<keys {
        let entry = slot(node, index)
        let bytes = key(entry.record)
        guard bytes.withUnsafeBytes(KeyPrefix.init) == entry.prefix else { throw corrupt(node, "a key prefix does not match its key") }
        if let previous, !previous.lexicographicallyPrecedes(bytes) { throw corrupt(node, "B+tree keys out of order") }
        if let lower, bytes.lexicographicallyPrecedes(lower) { throw corrupt(node, "a B+tree key below its subtree") }
        if let upper, !bytes.lexicographicallyPrecedes(upper) { throw corrupt(node, "a B+tree key above its subtree") }
        previous = bytes
      }
      if depth == height {
        leaves.append(node)
        return
      }
      for index in 0...keys {
        try check(Self.childField(node, index), depth: depth + 1,
                  lower: index == 0 ? lower : key(slot(node, index - 1).record),
                  upper: index == keys ? upper : key(slot(node, index).record))
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
