/// `value` rounded up to the next multiple of `multiple` (itself if it is one).
@inlinable @inline(__always)
package func roundUp(_ value: Int, to multiple: Int) -> Int {
  (value + multiple - 1) / multiple * multiple
}

/// `value` in hexadecimal, for messages.
@inlinable
package func hex<T: BinaryInteger>(_ value: T) -> String {
  "0x" + String(value, radix: 16)
}
