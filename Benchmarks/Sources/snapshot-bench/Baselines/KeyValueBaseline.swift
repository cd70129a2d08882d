/// A key-value store compared against: one durable transaction per `put`.
protocol KeyValueBaseline {
  /// The name the report uses.
  var name: String { get }
  /// Stores `value` under `key` in one transaction that is durable when this returns.
  mutating func put(key: UInt64, value: UnsafeRawBufferPointer) throws
  func close()
}

struct BaselineError: Error, CustomStringConvertible {
  var description: String
}
