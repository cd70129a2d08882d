/// XXH3-64 (seed 0, the default secret) of one 64-byte line: the checksum of each line of a redo
/// batch from format 4 on.
///
/// XXH3 is a published non-cryptographic hash (xxHash, by Yann Collet) that passes the SMHasher
/// suite. For exactly 64 bytes it is four 64 x 64 -> 128-bit multiplies of the line's words mixed
/// with fixed secret words, added up and avalanched: no table, no special instruction, and the
/// four products independent of each other. A line's CRC32C, which it replaces, is a chain of eight
/// `crc32` instructions; where that instruction retires one 8-byte word per three cycles (AMD EPYC),
/// a line costs about 24 cycles, against about 12 for this.
package enum XXH3 {
  /// The hash of the 64 bytes at `line`.
  @inline(__always)
  package static func hash(line: UnsafeRawPointer) -> UInt64 {
    var accumulator: UInt64 = 64 &* prime64
    accumulator &+= mix(line, at: 0, secret: (0xBE4B_A423_396C_FEB8, 0x1CAD_21F7_2C81_017C))
    accumulator &+= mix(line, at: 48, secret: (0xDB97_9083_E96D_D4DE, 0x1F67_B3B7_A4A4_4072))
    accumulator &+= mix(line, at: 16, secret: (0x78E5_C0CC_4EE6_79CB, 0x2172_FFCC_7DD0_5A82))
    accumulator &+= mix(line, at: 32, secret: (0x8E24_43F7_7446_08B8, 0x4C26_3A81_E690_35E0))
    accumulator ^= accumulator >> 37
    accumulator &*= 0x1656_6791_9E37_79F9
    return accumulator ^ accumulator >> 32
  }

  private static let prime64: UInt64 = 0x9E37_79B1_85EB_CA87

  /// The 16 bytes at `offset`, each word mixed with its secret word, multiplied to 128 bits and folded.
  @inline(__always)
  private static func mix(_ line: UnsafeRawPointer, at offset: Int, secret: (UInt64, UInt64)) -> UInt64 {
    let low = UInt64(littleEndian: line.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) ^ secret.0
    let high = UInt64(littleEndian: line.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)) ^ secret.1
    let product = low.multipliedFullWidth(by: high)
    return product.high ^ product.low
  }
}
