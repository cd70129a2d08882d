import Foundation
import Snapshot
import SnapshotKV

/// The key-value store against the very same containers elsewhere: point reads against ordinary
/// memory (what persistence costs a reader), and put + commit against PMDK (what a crash-consistent
/// update costs). Both indexes, on persistent memory (a tmpfs stand-in); keys are YCSB-style
/// ("user" and 12 digits), values 100 bytes.
struct KeyValueBenchmarks {
  let workspace: Workspace
  /// Keys in the store for the read benchmark.
  let keys: Int
  /// Keys in the stores before the put + commit benchmark.
  let preloadedKeys: Int
  let reads: Int
  let commits: Int
  let repetitions: Int

  static let keyLength = 16
  static let valueLength = 100

  func run(into report: inout BenchmarkReport) throws {
    for index in [SnapshotKV.Index.ordered, .hashed] {
      try pointReads(index, into: &report)
      workspace.clear()
      try putCommits(index, into: &report)
      workspace.clear()
    }
  }

  // MARK: Point reads

  private func pointReads(_ index: SnapshotKV.Index, into report: inout BenchmarkReport) throws {
    let keySet = KeySet(count: keys)
    let size = Self.storeSize(keys: keys)
    printProgress("\(index) index: loading \(keys) keys into a region and into ordinary memory")
    let store = try SnapshotKV.create(at: .init(workspace.file("reads")), size: size, backing: .persistentMemory, index: index, autocommit: false)
    defer { try? store.close() }
    let plain = try PlainContainer(index: index, size: size)
    defer { plain.deallocate() }
    let value = [UInt8](repeating: 0x5A, count: Self.valueLength)
    try value.withUnsafeBytes { value in
      for key in 0..<keys {
        try keySet.withKey(key) { key in
          try store.put(key, value)
          try plain.put(key, value)
        }
        if key % 10_000 == 9_999 { try store.commit() }
      }
    }
    try store.commit()

    // The same random order for both, every key present.
    var generator = SystemRandomNumberGenerator()
    let order = (0..<reads).map { _ in Int.random(in: 0..<keys, using: &generator) }
    // The baseline calls the container itself (the store's own dispatch counts against it), through a
    // closure literal like the store's, so that both inline alike.
    var ours: [Double] = [], baseline: [Double] = []
    for _ in 0..<repetitions {
      ours.append(try Self.timeReads(order, keySet) { key throws(SnapshotError) in try store.withValue(for: key) { $0[0] } })
      switch plain.index {
      case .ordered(let tree):
        baseline.append(try Self.timeReads(order, keySet) { key throws(SnapshotError) in try tree.withValue(for: key) { $0[0] } })
      case .hashed(let map):
        baseline.append(try Self.timeReads(order, keySet) { key throws(SnapshotError) in try map.withValue(for: key) { $0[0] } })
      }
    }
    let container = index == .ordered ? "B+tree" : "hash map"
    report.add("kv reads", "point read, \(keys) keys, \(container) in a region (SnapshotKV)", median(ours), unit: "ns",
               baseline: ("the same \(container) in ordinary memory", median(baseline)), maxRatio: 1.5)
  }

  /// Nanoseconds per lookup; traps if a key is missing, so that nothing is skipped.
  private static func timeReads(
    _ order: [Int], _ keySet: KeySet, _ lookup: (UnsafeRawBufferPointer) throws(SnapshotError) -> UInt8?
  ) throws(SnapshotError) -> Double {
    var checksum = 0
    let start = nanoseconds()
    for key in order {
      guard let byte = try keySet.withKey(key, lookup) else { fatalError("key \(key) is missing") }
      checksum &+= Int(byte)
    }
    let elapsed = nanoseconds() - start
    precondition(checksum == order.count * 0x5A)
    return Double(elapsed) / Double(order.count)
  }

  // MARK: Put + commit

  private func putCommits(_ index: SnapshotKV.Index, into report: inout BenchmarkReport) throws {
    let keySet = KeySet(count: preloadedKeys + repetitions * commits)
    let size = Self.storeSize(keys: keySet.count)
    printProgress("\(index) index: loading \(preloadedKeys) keys into a region and into a PMDK pool")
    let store = try SnapshotKV.create(at: .init(workspace.file("commits")), size: size, backing: .persistentMemory, index: index, autocommit: false)
    defer { try? store.close() }
    let pmdk = try PMDKContainer(index: index, path: workspace.file("commits.pmdk"), size: size)
    defer { pmdk.close() }
    var value = [UInt8](repeating: 0x5A, count: Self.valueLength)
    for key in 0..<preloadedKeys {
      try keySet.withKey(key) { key in
        try value.withUnsafeBytes { value in
          try store.put(key, value)
          try pmdk.put(key, value)
        }
      }
      if key % 10_000 == 9_999 {
        try store.commit()
        try pmdk.commit()
      }
    }
    try store.commit()
    try pmdk.commit()
    store.autocommit = true

    // PMDK's side calls its container directly, through a closure literal like the store's.
    func timePMDK(_ keys: [Int], _ value: UnsafeRawBufferPointer) throws(SnapshotError) -> Double {
      let backend = pmdk.backend
      switch pmdk.index {
      case .ordered(let tree):
        return try Self.timePuts(keys, keySet) { key throws(SnapshotError) in
          try tree.put(key, value)
          try backend.commit()
        }
      case .hashed(let map):
        return try Self.timePuts(keys, keySet) { key throws(SnapshotError) in
          try map.put(key, value)
          try backend.commit()
        }
      }
    }

    var generator = SystemRandomNumberGenerator()
    var updates: (ours: [Double], pmdk: [Double]) = ([], [])
    var inserts: (ours: [Double], pmdk: [Double]) = ([], [])
    for repetition in 0..<repetitions {
      let existing = (0..<commits).map { _ in Int.random(in: 0..<preloadedKeys, using: &generator) }
      let fresh = Array(preloadedKeys + repetition * commits..<preloadedKeys + (repetition + 1) * commits)
      value[0] = UInt8(truncatingIfNeeded: repetition)
      try value.withUnsafeBytes { value in
        updates.ours.append(try Self.timePuts(existing, keySet) { key throws(SnapshotError) in try store.put(key, value) })
        updates.pmdk.append(try timePMDK(existing, value))
        inserts.ours.append(try Self.timePuts(fresh, keySet) { key throws(SnapshotError) in try store.put(key, value) })
        inserts.pmdk.append(try timePMDK(fresh, value))
      }
    }
    precondition(store.count == keySet.count && pmdk.count == keySet.count)
    let container = index == .ordered ? "B+tree" : "hash map"
    report.add("kv commits", "put + commit, update of a 100-byte value, \(container) (SnapshotKV)", median(updates.ours), unit: "us",
               baseline: ("PMDK, the same \(container)", median(updates.pmdk)), maxRatio: 0.5)
    report.add("kv commits", "put + commit, insert of a 100-byte value, \(container) (SnapshotKV)", median(inserts.ours), unit: "us",
               baseline: ("PMDK, the same \(container)", median(inserts.pmdk)), maxRatio: 0.5)
  }

  /// Microseconds per put + commit.
  private static func timePuts(
    _ keys: [Int], _ keySet: KeySet, _ put: (UnsafeRawBufferPointer) throws(SnapshotError) -> Void
  ) throws(SnapshotError) -> Double {
    let start = nanoseconds()
    for key in keys {
      try keySet.withKey(key, put)
    }
    return Double(nanoseconds() - start) / Double(keys.count) / 1000
  }

  /// Room for `keys` entries with their index nodes, and some to spare.
  static func storeSize(keys: Int) -> Int {
    (keys * 400 + (64 << 20)) / 4096 * 4096
  }
}

/// YCSB-style keys, "user" and 12 digits of a scrambled number, kept in one buffer.
final class KeySet {
  let count: Int
  private let bytes: UnsafeMutableRawBufferPointer

  init(count: Int) {
    self.count = count
    bytes = .allocate(byteCount: count * KeyValueBenchmarks.keyLength, alignment: 64)
    for index in 0..<count {
      // A multiplier coprime to 10^12 makes this a bijection: no two keys are alike.
      let scrambled = UInt64(index) * 999_999_937 % 1_000_000_000_000
      let key = Array("user".utf8) + Array(String(format: "%012llu", scrambled).utf8)
      bytes[index * KeyValueBenchmarks.keyLength..<(index + 1) * KeyValueBenchmarks.keyLength].copyBytes(from: key)
    }
  }

  deinit {
    bytes.deallocate()
  }

  @inline(__always)
  func withKey<R, E: Error>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let length = KeyValueBenchmarks.keyLength
    return try body(UnsafeRawBufferPointer(start: bytes.baseAddress! + index * length, count: length))
  }
}

/// The store's containers in ordinary memory, with the same heap: the volatile baseline.
struct PlainContainer {
  typealias Backend = HeapBackend<PlainMemory>
  let mapping: AnonymousMapping
  let index: StoreIndex<Backend>

  init(index: SnapshotKV.Index, size: Int) throws {
    mapping = AnonymousMapping(size: size)
    let backend = Backend(memory: PlainMemory(base: mapping.base, size: size), heapOffset: 64) { () throws(SnapshotError) in 0 }
    backend.heap.format()
    self.index = try .create(index, in: backend)
  }

  func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
    try index.put(key, value)
  }

  func deallocate() {
    mapping.release()
  }
}

/// The store's containers in a PMDK pool.
struct PMDKContainer {
  let backend: PMDKBackend<PMDKPoolMemory>
  let index: StoreIndex<PMDKBackend<PMDKPoolMemory>>

  init(index: SnapshotKV.Index, path: String, size: Int) throws {
    backend = try PMDKBackend(path: path, size: size)
    self.index = try .create(index, in: backend)
    try backend.commit()
  }

  var count: Int { index.count }

  func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SnapshotError) {
    try index.put(key, value)
  }

  func commit() throws(SnapshotError) {
    try backend.commit()
  }

  func close() {
    backend.close()
  }
}
