/// YCSB's 64-bit FNV-1a over the eight bytes of a number, low byte first, then the absolute value with
/// Java's semantics (`Int64.min` stays negative). Keys and the scrambled zipfian both use it.
@inlinable
public func fnvHash64(_ value: Int64) -> Int64 {
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  var remaining = UInt64(bitPattern: value)
  for _ in 0..<8 {
    hash ^= remaining & 0xFF
    hash = hash &* 1_099_511_628_211
    remaining >>= 8
  }
  let signed = Int64(bitPattern: hash)
  return signed == .min ? signed : abs(signed)
}
