import CAllocationCounter
import Snapshot
import SnapshotKV
import SnapshotTestSupport
import Testing

/// The store's hot paths allocate nothing on the process's heap: nodes are changed where they lie in
/// the region, keys and values are read in place.
@Suite struct AllocationTests {
  static let counting = allocation_counting_available() != 0

  /// Heap allocations `body` makes on this thread.
  func allocations(_ body: () throws -> Void) rethrows -> UInt {
    let before = allocation_count()
    try body()
    return allocation_count() - before
  }

  @Test(.enabled(if: counting, "a sanitizer's runtime owns malloc"))
  func theCounterSeesAnAllocation() {
    let counted = allocations { withExtendedLifetime(Array(repeating: 1, count: 100)) {} }
    #expect(counted >= 1)
  }

  /// Inserts (with every kind of split, a new root, rehashes), updates of the same and of another
  /// length, point reads and removals, on a store in a region: none allocates. The operations run
  /// once on a first store before they are counted on a second: the first use of a generic type
  /// allocates its metadata, once per process.
  @Test(.enabled(if: counting, "a sanitizer's runtime owns malloc"), arguments: [SnapshotKV.Index.ordered, .hashed])
  func putsGetsAndDeletesAllocateNothing(index: SnapshotKV.Index) throws {
    let directory = TestDirectory()
    _ = try exercise(try SnapshotKV.create(at: directory.file("warm"), size: 64 << 20, index: index, autocommit: false))
    let store = try SnapshotKV.create(at: directory.file("store"), size: 64 << 20, index: index, autocommit: false)
    let counted = try exercise(store)
    #expect(counted == 0, "\(counted) heap allocations in 24,000 puts, reads and deletes")
    let scattered = Set((0..<6000).map { ($0 &* 7919) % 12000 })
    #expect(store.count == Set(0..<6000).subtracting(scattered).count)
    try store.check()
  }

  /// Runs the operations on `store`; returns the heap allocations they made.
  func exercise(_ store: SnapshotKV) throws -> UInt {
    var key = [UInt8](repeating: 0, count: 24)
    let short = [UInt8](repeating: 1, count: 100), long = [UInt8](repeating: 2, count: 300)
    var counted: UInt = 0, found = 0
    for round in 0..<4 {
      for number in 0..<6000 {
        // Ascending keys fill the right edge of the tree, the scattered rounds split in the middle.
        let keyNumber = round == 0 ? number : (number &* 7919) % 12000
        withUnsafeBytes(of: UInt64(keyNumber).bigEndian) { number in key.withUnsafeMutableBytes { $0.copyMemory(from: number) } }
        try key.withUnsafeBytes { key in
          try (round == 2 ? long : short).withUnsafeBytes { value in
            counted += try allocations {
              switch round {
              case 3: found += try store.delete(key) ? 1 : 0
              default:
                try store.put(key, value)
                found += try store.withValue(for: key) { $0.count } == value.count ? 1 : 0
              }
            }
          }
        }
      }
      try store.commit()
    }
    #expect(found == 24000, "a put that cannot be read back, or a delete that finds nothing")
    return counted
  }
}
