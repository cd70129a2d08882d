import Foundation
import Snapshot
import SnapshotKV
import SystemPackage

/// Corrupts the data area of key-value stores (the heap's header and blocks, B+tree nodes, hash-map
/// tables and chains, keys and values: bytes no checksum covers) and runs every store operation on
/// each: open, get, scan, put, replace, delete and the full check. Each operation must return or
/// throw a `SnapshotError`; a trap ends the run, and a case that does not finish within the time
/// limit is reported by the watchdog. Corruptions are tracked stores into an open region, rolled back
/// with `discard()` after each case, so a case costs microseconds rather than a file copy.
package struct StoreFuzzer: Sendable {
  package var cases = 100_000
  package var seed: UInt64 = 5
  /// Longer than any case takes by orders of magnitude, even on a loaded machine.
  package var timeLimit: TimeInterval = 20

  package struct Report: Sendable {
    package var cases = 0
    /// Cases where opening the store refused it.
    package var refusedAtOpen = 0
    /// Cases where an operation or the check threw a typed error.
    package var refused = 0
    /// Cases where every operation and the check passed: the corruption changed a byte the store
    /// does not depend on (a value's bytes, free space) or one it cannot tell from a valid one.
    package var passed = 0
    package var failures: [String] = []
  }

  /// A committed store to corrupt, the keys it holds and the bytes it was committed with.
  private struct Seed {
    var name: String
    var store: SnapshotKV
    var keys: [[UInt8]]
    /// The extent of the heap that blocks have been cut from.
    var heap: Range<Int>
    var committed: [UInt8]
  }

  package init() {}

  package func run(directory: String, progress: (String) -> Void) throws -> Report {
    let seeds = try corpus(directory: directory)
    defer {
      for seed in seeds {
        try? seed.store.close()
        try? FileManager.default.removeItem(atPath: seed.store.region.path.string)
      }
    }
    let watchdog = Watchdog(limit: timeLimit, directory: directory)
    defer { watchdog.stop() }
    var generator = SeededGenerator(seed: seed)
    var report = Report()
    for index in 0..<cases {
      let seed = seeds[index % seeds.count]
      let description = corrupt(seed, generator: &generator)
      watchdog.begin("store fuzz case \(index) (\(seed.name), \(description))")
      exercise(seed, generator: &generator, report: &report)
      try seed.store.region.discard()
      if index % 64 == 0, seed.store.region.withUnsafeBytes({ !$0.elementsEqual(seed.committed) }) {
        report.failures.append("store fuzz case \(index) (\(seed.name)): discard did not restore the committed store")
      }
      report.cases += 1
      if report.cases % 25_000 == 0 {
        progress("  store fuzz: \(report.cases) cases, \(report.refused + report.refusedAtOpen) refused, \(report.failures.count) failures")
      }
    }
    return report
  }

  /// Stores of both indexes: a small one (a single leaf or a short table), and large ones with a
  /// B+tree several levels high or a table that has grown, values of every size class and free
  /// blocks on the heap's lists.
  private func corpus(directory: String) throws -> [Seed] {
    var generator = SeededGenerator(seed: seed)
    var seeds: [Seed] = []
    for (index, keys) in [(SnapshotKV.Index.ordered, 12), (.ordered, 1_500), (.hashed, 12), (.hashed, 1_500)] {
      let path = FilePath("\(directory)/store-fuzz-\(index)-\(keys).kv")
      try? FileManager.default.removeItem(atPath: path.string)
      let store = try SnapshotKV.create(at: path, size: 1 << 20, index: index, autocommit: false)
      var live: [[UInt8]] = []
      for key in 0..<keys {
        let bytes = Array("key\(key)".utf8)
        // Mostly small values, so that most words hit are structure rather than value bytes.
        let length = key % 50 == 49 ? 2_000 : [0, 1, 7, 8, 16, 40, 100, 300][key % 8]
        try store.put(bytes, (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
        live.append(bytes)
      }
      for key in stride(from: 3, to: keys, by: 5) { try store.delete(Array("key\(key)".utf8)) }
      live.removeAll { key in Int(String(decoding: key.dropFirst(3), as: UTF8.self))! % 5 == 3 }
      try store.commit()
      try store.check()
      let top = store.region.size - store.statistics.untouchedBytes
      seeds.append(Seed(
        name: "\(index) store of \(live.count) keys", store: store, keys: live, heap: 0..<top,
        committed: store.region.withUnsafeBytes { Array($0) }))
    }
    return seeds
  }

  /// One corruption of a seed's heap, through tracked stores; returns what it did.
  private func corrupt(_ seed: Seed, generator: inout SeededGenerator) -> String {
    let region = seed.store.region
    let word = Int.random(in: seed.heap.lowerBound / 8..<seed.heap.upperBound / 8, using: &generator) * 8
    let old = region.load(UInt64.self, at: word)
    func set(_ value: UInt64, _ what: String) -> String {
      region.store(value, at: word)
      return "word at \(word): \(what) (0x\(String(old, radix: 16)) to 0x\(String(value, radix: 16)))"
    }
    switch Int.random(in: 0..<9, using: &generator) {
    case 0: return set(old ^ 1 << UInt64.random(in: 0..<64, using: &generator), "one bit flipped")
    case 1: return set(0, "zeroed")
    case 2: return set(.max, "all ones")
    case 3: return set(old &+ UInt64(bitPattern: Int64.random(in: -72...72, using: &generator)), "moved a little")
    case 4: return set(UInt64.random(in: 0..<UInt64(seed.heap.upperBound + 4096), using: &generator), "an offset in or near the heap")
    case 5:
      let other = Int.random(in: seed.heap.lowerBound / 8..<seed.heap.upperBound / 8, using: &generator) * 8
      return set(region.load(UInt64.self, at: other), "copied from the word at \(other)")
    case 6: return set(.random(in: 0...UInt64.max, using: &generator), "random")
    case 7:
      let line = word & ~63
      region.fill(0, at: line, count: min(64, region.size - line))
      return "line at \(line) zeroed"
    default:
      let line = word & ~63
      let other = Int.random(in: seed.heap.lowerBound / 64..<seed.heap.upperBound / 64, using: &generator) * 64
      region.copy(from: other, to: line, count: min(64, region.size - max(line, other)))
      return "line at \(line) overwritten with the line at \(other)"
    }
  }

  /// Every store operation on the corrupted store, each one whether or not the one before threw.
  private func exercise(_ seed: Seed, generator: inout SeededGenerator, report: inout Report) {
    let store: SnapshotKV
    do {
      store = try SnapshotKV(region: seed.store.region, autocommit: false)
    } catch {
      report.refusedAtOpen += 1
      return
    }
    var refused = false
    func attempt(_ body: () throws(SnapshotError) -> Void) {
      do { try body() } catch { refused = true }
    }
    let key = seed.keys.randomElement(using: &generator)!
    let other = seed.keys.randomElement(using: &generator)!
    let length = [0, 8, 100, 2_000][Int.random(in: 0..<4, using: &generator)]
    let value = [UInt8](repeating: 0xA5, count: length)
    attempt { () throws(SnapshotError) in _ = try store.get(key) }
    attempt { () throws(SnapshotError) in _ = try store.get(Array("absent\(length)".utf8)) }
    if store.index == .ordered { attempt { () throws(SnapshotError) in _ = try store.scan(from: key, count: 20) } }
    attempt { () throws(SnapshotError) in try store.put(Array("new\(length)".utf8), value) }
    attempt { () throws(SnapshotError) in try store.put(key, value) }
    attempt { () throws(SnapshotError) in _ = try store.delete(other) }
    attempt { () throws(SnapshotError) in try store.check() }
    if refused { report.refused += 1 } else { report.passed += 1 }
  }
}
