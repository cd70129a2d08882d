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

/// How a line is copied to persistent memory with non-temporal stores, which bypass the cache.
public enum LineStreamInstruction: String, Sendable, CaseIterable {
  /// One 64-byte AVX-512 store (`vmovntdq` from a `zmm` register): a single store fills the
  /// write-combining buffer. On an Intel Xeon the paper's msync took about a tenth less than with
  /// four 16-byte stores (docs/PERFORMANCE.md).
  case avx512
  /// Four 16-byte SSE2 stores (`movntdq`), which every x86-64 processor has.
  case sse2
}

/// What the processor supports, read once with `cpuid`.
public struct CPUFeatures: Sendable {
  /// The best cache-line write-back instruction available.
  public var flushInstruction: CacheLineFlushInstruction { flushInstructions.first ?? .none }
  /// Every cache-line write-back instruction available, best first; empty when there is none.
  public var flushInstructions: [CacheLineFlushInstruction]
  /// Whether the SSE4.2 `crc32` instruction is available.
  public var hasCRC32C: Bool
  /// The best way of streaming a line.
  public var streamInstruction: LineStreamInstruction { streamInstructions.first ?? .sse2 }
  /// Every way of streaming a line available, best first. On other architectures than x86-64 both
  /// are an ordinary copy.
  public var streamInstructions: [LineStreamInstruction]

  /// The features of the processor this process runs on.
  public static let current = CPUFeatures.detect()

  static func detect() -> CPUFeatures {
    #if !arch(x86_64)
    return CPUFeatures(flushInstructions: [], hasCRC32C: false, streamInstructions: [.sse2])
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
    // AVX-512 instructions run only where the system saves the registers they use: XCR0's SSE, AVX,
    // opmask and both halves of the zmm state (bits 1, 2, 5, 6, 7).
    let hasOSXSAVE = leaf1.2 & (1 << 27) != 0
    let hasAVX512F = leaf7.1 & (1 << 16) != 0
    let savesZMM = hasOSXSAVE && snapshot_xgetbv(0) & 0xE6 == 0xE6
    let stream: [LineStreamInstruction] = (hasAVX512F && savesZMM ? [.avx512] : []) + [.sse2]
    return CPUFeatures(flushInstructions: flush, hasCRC32C: hasSSE42, streamInstructions: stream)
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
