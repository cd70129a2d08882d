import CSnapshotPlatform

/// The instruction this machine offers for writing a cache line back to memory.
///
/// Preference order: `clwb` (writes back and keeps the line cached), `clflushopt` (weakly ordered,
/// evicts), `clflush` (strongly ordered, evicts). `none` on machines without any of them, where there is
/// no persistent memory to flush to.
public enum CacheLineFlushInstruction: String, Sendable, CaseIterable {
  case clwb
  case clflushopt
  case clflush
  case none
}

/// What the processor supports, read once with `cpuid`.
public struct CPUFeatures: Sendable {
  /// The best cache-line write-back instruction available.
  public var flushInstruction: CacheLineFlushInstruction { flushInstructions.first ?? .none }
  /// Every cache-line write-back instruction available, best first; empty when there is none.
  public var flushInstructions: [CacheLineFlushInstruction]
  /// Whether the SSE4.2 `crc32` instruction is available.
  public var hasCRC32C: Bool

  /// The features of the processor this process runs on.
  public static let current = CPUFeatures.detect()

  static func detect() -> CPUFeatures {
    #if !arch(x86_64)
    return CPUFeatures(flushInstructions: [], hasCRC32C: false)
    #else
    let leaf1 = cpuid(leaf: 1)
    let maxLeaf = cpuid(leaf: 0).0
    let leaf7 = maxLeaf >= 7 ? cpuid(leaf: 7) : (0, 0, 0, 0)
    let hasCLFLUSH = leaf1.3 & (1 << 19) != 0
    let hasSSE42 = leaf1.2 & (1 << 20) != 0
    let hasCLFLUSHOPT = leaf7.1 & (1 << 23) != 0
    let hasCLWB = leaf7.1 & (1 << 24) != 0
    let available: [(Bool, CacheLineFlushInstruction)] = [(hasCLWB, .clwb), (hasCLFLUSHOPT, .clflushopt), (hasCLFLUSH, .clflush)]
    let flush = available.filter(\.0).map(\.1)
    return CPUFeatures(flushInstructions: flush, hasCRC32C: hasSSE42)
    #endif
  }

  private static func cpuid(leaf: UInt32) -> (UInt32, UInt32, UInt32, UInt32) {
    var registers: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    withUnsafeMutableBytes(of: &registers) { raw in
      snapshot_cpuid(leaf, 0, raw.baseAddress!.assumingMemoryBound(to: UInt32.self))
    }
    return registers
  }
}
