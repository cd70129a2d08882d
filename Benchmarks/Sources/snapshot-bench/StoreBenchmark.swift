import Foundation
import Snapshot
import SystemPackage

/// The store path: a tracked store to a line already dirty, and the first store to a line in an epoch
/// (sequential and random), each against a plain store to ordinary memory at the same offsets.
struct StoreBenchmark {
  let workspace: Workspace
  let repetitions: Int
  let regionSize = 1 << 30
  let firstStores = 1 << 20

  func run(into report: inout BenchmarkReport) throws {
    printProgress("stores: 1 GiB regions, \(firstStores) first stores per pass")
    let plain = AnonymousMapping(size: regionSize)
    defer { plain.release() }

    let hot = offsets(count: 1 << 12) { index in (index &* 0x9E37_79B1) & ((32 << 10) / 8 - 1) * 8 }
    let sequential = offsets(count: firstStores) { $0 * 64 + 8 }
    let spread = SpreadLines(lineCount: regionSize / 64)
    let random = offsets(count: firstStores) { spread.line($0) * 64 + 8 * ($0 & 7) }
    let hotPasses = 2000

    for journal in [Region.Journal.redo, .undo] {
      let region = try Region.create(
        at: FilePath(workspace.file("stores-\(journal)")), size: regionSize, options: .init(backing: .persistentMemory, journal: journal))
      var plainHot: [Double] = [], trackedHot: [Double] = []
      var plainSequential: [Double] = [], firstSequential: [Double] = []
      var plainRandom: [Double] = [], firstRandom: [Double] = [], dirtyRandom: [Double] = []
      for _ in 0..<repetitions {
        storeAll(hot, into: region)  // make the window dirty
        plainHot.append(time(stores: hot.count * hotPasses) { for _ in 0..<hotPasses { storeAll(hot, into: plain.base) } })
        trackedHot.append(time(stores: hot.count * hotPasses) { for _ in 0..<hotPasses { storeAll(hot, into: region) } })
        try region.discard()

        plainSequential.append(time(stores: sequential.count) { storeAll(sequential, into: plain.base) })
        firstSequential.append(time(stores: sequential.count) { storeAll(sequential, into: region) })
        try region.discard()

        plainRandom.append(time(stores: random.count) { storeAll(random, into: plain.base) })
        firstRandom.append(time(stores: random.count) { storeAll(random, into: region) })
        dirtyRandom.append(time(stores: random.count) { storeAll(random, into: region) })
        try region.discard()
      }
      let group = "stores (\(journal))"
      report.add(group, "tracked store to a dirty line (32 KiB window, random order)", median(trackedHot), unit: "ns",
                 baseline: ("plain store", median(plainHot)), maxRatio: 2)
      report.add(group, "tracked store to a dirty line (1 GiB, random lines)", median(dirtyRandom), unit: "ns",
                 baseline: ("plain store", median(plainRandom)), maxRatio: 2)
      report.add(group, "first store to a fresh line, sequential", median(firstSequential), unit: "ns",
                 baseline: ("plain store", median(plainSequential)))
      report.add(group, "first store to a fresh line, random in 1 GiB", median(firstRandom), unit: "ns",
                 baseline: ("plain store", median(plainRandom)), maxValue: 40)
      try region.close()
    }
  }

  private func offsets(count: Int, _ offset: (Int) -> Int) -> [Int] {
    (0..<count).map(offset)
  }

  private func time(stores: Int, _ body: () -> Void) -> Double {
    let start = nanoseconds()
    body()
    return Double(nanoseconds() - start) / Double(stores)
  }
}

@inline(never)
func storeAll(_ offsets: [Int], into region: Region) {
  var value: UInt64 = 1
  for offset in offsets {
    region.store(value, at: offset)
    value &+= 1
  }
}

@inline(never)
func storeAll(_ offsets: [Int], into base: UnsafeMutableRawPointer) {
  var value: UInt64 = 1
  for offset in offsets {
    base.storeBytes(of: value, toByteOffset: offset, as: UInt64.self)
    value &+= 1
  }
}

/// Ordinary anonymous memory, populated and with the same huge-page advice as a working copy.
struct AnonymousMapping {
  let base: UnsafeMutableRawPointer
  let size: Int

  init(size: Int) {
    let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
    precondition(address != MAP_FAILED, "cannot allocate \(size) bytes")
    _ = madvise(address, size, MADV_HUGEPAGE)
    memset(address, 0, size)
    base = address
    self.size = size
  }

  func release() {
    munmap(base, size)
  }
}
