/// Replays a trace under the persistent-memory crash model: the medium persists aligned 8-byte units;
/// a unit stored but not yet flushed and fenced may have reached the medium or not, independently of
/// every other unit; a fence makes the units flushed (or streamed) before it durable.
struct PersistentMemoryCrashModel {
  /// What the medium surely holds.
  private(set) var durable: [UInt8]
  /// Units whose content on the medium is uncertain: the latest value stored, and the value captured
  /// by a flush that the next fence will make durable.
  private(set) var pending: [Int: (latest: UInt64, flushed: UInt64?)] = [:]

  init(initialImage: [UInt8]) {
    durable = initialImage
    precondition(initialImage.count % 8 == 0)
  }

  mutating func apply(_ event: TraceEvent) {
    switch event {
    case .store(let offset, let bytes):
      write(bytes, at: offset, flushed: false)
    case .stream(let offset, let bytes):
      write(bytes, at: offset, flushed: true)
    case .flush(let offset, let count):
      guard count > 0 else { return }
      let first = offset / 64 * 8
      let end = (offset + count + 63) / 64 * 8
      for unit in first..<end {
        if let entry = pending[unit] { pending[unit] = (entry.latest, entry.latest) }
      }
    case .fence:
      for (unit, entry) in pending {
        guard let flushed = entry.flushed else { continue }
        setDurable(unit: unit, value: flushed)
        pending[unit] = entry.latest == flushed ? nil : (entry.latest, nil)
      }
    case .msyncBegins, .msyncReturned:
      break
    }
  }

  /// The pending units in a fixed order, so that image choices can be named by index.
  var pendingUnits: [Int] { pending.keys.sorted() }

  /// The medium's content if exactly the pending units in `persisted` reached it.
  func image(persisting persisted: some Sequence<Int>) -> [UInt8] {
    var image = durable
    for unit in persisted {
      guard let entry = pending[unit] else { continue }
      withUnsafeBytes(of: entry.latest.littleEndian) { bytes in
        image.replaceSubrange(unit * 8..<unit * 8 + 8, with: bytes)
      }
    }
    return image
  }

  private mutating func write(_ bytes: [UInt8], at offset: Int, flushed: Bool) {
    var index = 0
    while index < bytes.count {
      let unit = (offset + index) / 8
      var value = pending[unit]?.latest ?? unitValue(unit)
      withUnsafeMutableBytes(of: &value) { raw in
        while index < bytes.count, (offset + index) / 8 == unit {
          raw[(offset + index) % 8] = bytes[index]
          index += 1
        }
      }
      let previousFlush = pending[unit]?.flushed
      pending[unit] = (value, flushed ? value : previousFlush)
    }
  }

  private func unitValue(_ unit: Int) -> UInt64 {
    durable.withUnsafeBytes { $0.load(fromByteOffset: unit * 8, as: UInt64.self) }
  }

  private mutating func setDurable(unit: Int, value: UInt64) {
    withUnsafeBytes(of: value) { bytes in
      durable.replaceSubrange(unit * 8..<unit * 8 + 8, with: bytes)
    }
  }
}
