/// Folds a sequence of checksums (one per log line or per undo entry) into one value.
///
/// Not with another CRC: CRC is linear, and a CRC of CRCs lets structured changes cancel (the same
/// value moved from one line to the matching word of the line before it leaves the fold unchanged, and
/// a torn batch of such data would pass). A multiply-xorshift step is not linear in either sense, so a
/// change to any element changes the result but for a 2^-64-ish chance, whatever its pattern.
struct ChecksumChain {
  private(set) var value: UInt64 = 0

  @inline(__always)
  mutating func add(_ element: UInt64) {
    value = (value ^ element) &* 0x9E37_79B9_7F4A_7C15
    value ^= value >> 29
  }
}
