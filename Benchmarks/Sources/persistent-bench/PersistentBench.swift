import Foundation
import SnapshotPersistent
import SystemPackage

@Persistent
struct Record {
  var key: UInt64
  var value: Int64
  var hits: UInt32
}

/// A field store through a `@Persistent` struct's tracked pointer, against the same store written by
/// hand (`region.store(_:at:)` at the field's offset) and a plain store to ordinary memory, each to a
/// line already dirty, in the same run. Build with -c release.
@main
struct PersistentBench {
  static func main() throws {
    let directory = "/dev/shm/snapshot-persistent-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let region = try Region.create(at: FilePath("\(directory)/region"), size: 1 << 20, options: .init(backing: .persistentMemory))
    let count = (32 << 10) / MemoryLayout<Record>.stride
    let records: Record.Ref = region.pointer(to: Record.self, at: 0)
    let plain = UnsafeMutablePointer<Record>.allocate(capacity: count)
    plain.initialize(repeating: Record(key: 0, value: 0, hits: 0), count: count)
    defer { plain.deallocate() }
    let order = (0..<4096).map { ($0 &* 0x9E37_79B1) % count }
    let valueOffset = MemoryLayout<Record>.offset(of: \Record.value)!
    region.fill(1, at: 0, count: count * MemoryLayout<Record>.stride)  // every line dirty

    var macro: [Double] = [], hand: [Double] = [], ordinary: [Double] = []
    for _ in 0..<9 {
      ordinary.append(time(order) { index, value in plain[index].value = value })
      hand.append(time(order) { index, value in region.store(value, at: index * MemoryLayout<Record>.stride + valueOffset) })
      macro.append(time(order) { index, value in records.advanced(by: index).value = value })
    }
    let macroStore = median(macro), handStore = median(hand), plainStore = median(ordinary)
    print("""
      | measurement | ns per store | ratio |
      |---|---|---|
      | @Persistent field store (`records.advanced(by: i).value = v`) | \(format(macroStore)) | \(format(macroStore / handStore))x the hand-written store (target ≤ 1.2x): \(macroStore / handStore <= 1.2 ? "met" : "NOT met") |
      | hand-written tracked store (`region.store(v, at: offset)`) | \(format(handStore)) | \(format(handStore / plainStore))x the plain store |
      | plain store to ordinary memory | \(format(plainStore)) | |
      """)
    try region.close()
  }

  @inline(never)
  static func time(_ order: [Int], _ store: (Int, Int64) -> Void) -> Double {
    let passes = 2000
    let start = ContinuousClock.now
    for pass in 0..<passes {
      for index in order { store(index, Int64(pass)) }
    }
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.attoseconds) / 1e9 / Double(passes * order.count)
      + Double(elapsed.components.seconds) * 1e9 / Double(passes * order.count)
  }

  static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

  static func format(_ value: Double) -> String { String(format: "%.2f", value) }
}
