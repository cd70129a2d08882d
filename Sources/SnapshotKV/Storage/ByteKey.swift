/// Compares the bytes of two keys: lexicographic, a shorter key before its extensions.
@inline(__always)
@inlinable func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
  let common = min(a.count, b.count)
  if common > 0 {
    let order = memcmp(a.baseAddress!, b.baseAddress!, common)
    if order != 0 { return Int(order) }
  }
  return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// A 64-bit hash of a key's bytes (FNV-1a, mixed at the end).
@inline(__always)
@inlinable func hashBytes(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  for byte in bytes {
    hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
  }
  hash ^= hash >> 33
  hash = hash &* 0xFF51_AFD7_ED55_8CCD
  return hash ^ (hash >> 33)
}

/// The first sixteen bytes of a key, big-endian, zero-padded: comparing prefixes orders keys whose
/// first sixteen bytes differ without reading the keys themselves.
@usableFromInline
struct KeyPrefix: Equatable {
  @usableFromInline var high: UInt64
  @usableFromInline var low: UInt64

  @inlinable
  init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  @inlinable
  init(_ bytes: UnsafeRawBufferPointer) {
    high = Self.word(bytes, at: 0)
    low = Self.word(bytes, at: 8)
  }

  /// Orders two prefixes: -1, 0 or 1.
  @inlinable @inline(__always)
  func compare(_ other: KeyPrefix) -> Int {
    if high != other.high { return high < other.high ? -1 : 1 }
    if low != other.low { return low < other.low ? -1 : 1 }
    return 0
  }

  @inlinable @inline(__always)
  static func word(_ bytes: UnsafeRawBufferPointer, at start: Int) -> UInt64 {
    if bytes.count >= start + 8 {
      return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self))
    }
    var word: UInt64 = 0
    for index in start..<start + 8 {
      word = word << 8 | UInt64(index < bytes.count ? bytes[index] : 0)
    }
    return word
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
