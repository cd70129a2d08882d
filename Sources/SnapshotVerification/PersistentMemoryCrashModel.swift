import Snapshot
import SystemPackage

/// Replays a trace under the persistent-memory crash model: the medium persists aligned 8-byte units;
/// a unit stored to but not yet flushed and fenced may hold, after a crash, its durable value or any
/// value stored to it since, independently of every other unit; a fence makes the value a flush
/// captured (or a non-temporal store wrote) durable. The file's length (the log at its end grows and
/// shrinks) is durable once the file is synced; until then a crash may leave the old length or the new.
package struct PersistentMemoryCrashModel: CrashModel {
  /// What the medium surely holds, up to the longer of the two lengths.
  package private(set) var durable: [UInt8]
  /// Units whose content on the medium is uncertain.
  private var pending: [Int: PendingUnit] = [:]
  /// The file's length as the run sees it, and as it surely is on the medium.
  private var length: Int
  private var durableLength: Int
  /// The unit standing for the file's length while the new one is not durable.
  package static let lengthUnit = -1

  struct PendingUnit {
    /// Every value stored to the unit since its durable one, oldest first; never empty.
    var values: [UInt64]
    /// The index in `values` that the next fence makes durable, when a flush or a non-temporal store
    /// captured one.
    var captured: Int?
  }

  package init(initialImage: [UInt8]) {
    precondition(initialImage.count % 8 == 0)
    durable = initialImage
    length = initialImage.count
    durableLength = initialImage.count
  }

  package init(initial: CrashImage) {
    self.init(initialImage: initial.data)
  }

  package static func isCrashPoint(_ event: TraceEvent) -> Bool {
    event == .fence || event == .processCrash || event == .fileSync(file: .data)
  }

  package static func open(
    at path: FilePath, trace: Trace, faults: Fault, emulatingCXL: Bool, flushInstruction: CacheLineFlushInstruction
  ) throws -> Region {
    try TracingPersistentMemory.open(at: path, trace: trace, faults: faults, emulatingCXL: emulatingCXL, flushInstruction: flushInstruction)
  }

  package mutating func apply(_ event: TraceEvent) {
    switch event {
    case .store(let offset, let bytes):
      write(bytes, at: offset, captured: false)
    case .stream(let offset, let bytes):
      write(bytes, at: offset, captured: true)
    case .flush(let offset, let count):
      guard count > 0 else { return }
      for unit in offset / 64 * 8..<(offset + count + 63) / 64 * 8 {
        if var entry = pending[unit] {
          entry.captured = entry.values.count - 1
          pending[unit] = entry
        }
      }
    case .fence:
      for (unit, entry) in pending {
        guard let captured = entry.captured else { continue }
        setDurable(unit: unit, value: entry.values[captured])
        let later = Array(entry.values[(captured + 1)...])
        pending[unit] = later.isEmpty ? nil : PendingUnit(values: later, captured: nil)
      }
    case .processCrash:
      for (unit, entry) in pending { setDurable(unit: unit, value: entry.values.last!) }
      pending.removeAll()
      durableLength = length
    case .fileResize(.data, let newLength):
      resize(to: newLength)
    case .fileSync(.data):
      durableLength = length
    default:
      break
    }
  }

  /// The uncertain units, in address order (the length first, while a new one is not durable);
  /// outcome k holds the k-th most recent value stored, or for the length, the new one.
  package var uncertainUnits: [(unit: Int, outcomes: Int)] {
    (durableLength == length ? [] : [(Self.lengthUnit, 1)]) + pending.keys.sorted().map { ($0, pending[$0]!.values.count) }
  }

  package func image(_ choice: [Int: Int]) -> CrashImage {
    let imageLength = choice[Self.lengthUnit] == 1 ? length : durableLength
    var image = Array(durable.prefix(imageLength))
    image.append(contentsOf: repeatElement(0, count: imageLength - image.count))
    image.withUnsafeMutableBytes { raw in
      for (unit, outcome) in choice where outcome > 0 && unit >= 0 && unit * 8 < imageLength {
        guard let entry = pending[unit] else { continue }
        raw.storeBytes(of: entry.values[entry.values.count - outcome], toByteOffset: unit * 8, as: UInt64.self)
      }
    }
    return CrashImage(data: image)
  }

  /// A new length: bytes beyond the old one read as zeros (whatever a cut, not yet durable, left
  /// there before), and what was stored beyond a shorter one is gone.
  private mutating func resize(to newLength: Int) {
    if newLength > length {
      if durable.count < newLength { durable.append(contentsOf: repeatElement(0, count: newLength - durable.count)) }
      durable.replaceSubrange(length..<newLength, with: repeatElement(0, count: newLength - length))
    } else {
      pending = pending.filter { $0.key * 8 < newLength }
    }
    length = newLength
  }

  private mutating func write(_ bytes: [UInt8], at offset: Int, captured: Bool) {
    var index = 0
    while index < bytes.count {
      let unit = (offset + index) / 8
      var entry = pending[unit] ?? PendingUnit(values: [], captured: nil)
      var value = entry.values.last ?? durableValue(unit)
      withUnsafeMutableBytes(of: &value) { raw in
        while index < bytes.count, (offset + index) / 8 == unit {
          raw[(offset + index) % 8] = bytes[index]
          index += 1
        }
      }
      entry.values.append(value)
      if captured { entry.captured = entry.values.count - 1 }
      pending[unit] = entry
    }
  }

  private func durableValue(_ unit: Int) -> UInt64 {
    durable.withUnsafeBytes { $0.load(fromByteOffset: unit * 8, as: UInt64.self) }
  }

  private mutating func setDurable(unit: Int, value: UInt64) {
    durable.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: unit * 8, as: UInt64.self) }
  }
}
