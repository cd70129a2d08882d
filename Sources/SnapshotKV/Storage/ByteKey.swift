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

/// The first eight bytes of a key, big-endian, zero-padded: comparing prefixes orders keys whose first
/// eight bytes differ without reading them.
@inline(__always)
@inlinable func keyPrefix(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
  var prefix: UInt64 = 0
  for index in 0..<8 {
    prefix = prefix << 8 | UInt64(index < bytes.count ? bytes[index] : 0)
  }
  return prefix
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
