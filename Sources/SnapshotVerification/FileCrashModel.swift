import Snapshot
import SystemPackage

/// Replays a trace under the crash model for files: a write is durable once a later sync of its file
/// has returned. Until then each of the 512-byte sectors it touches may have been written or not,
/// independently; a sector beyond the file's durable end may also hold zeros or garbage. A change of a
/// file's length (allocated or cut) is durable after the same sync; until then the file may have its
/// old length or the new one. A new region's file names are durable once its directory was synced. A
/// process crash loses nothing: the page cache survives it.
package struct FileCrashModel: CrashModel {
  static let sectorSize = 512
  /// The unit standing for the new files' directory entries, while they are not durable.
  package static let directoryUnit = -1

  private var durable: [RegionFileRole: [UInt8]]
  private var pending: [RegionFileRole: [(offset: Int, bytes: [UInt8])]] = [.data: [], .log: []]
  /// A length given to a file since its last sync.
  private var pendingLength: [RegionFileRole: Int] = [:]
  private var namesDurable: Bool

  package init(initial: CrashImage) {
    durable = [.data: initial.data, .log: initial.log ?? []]
    namesDurable = true
  }

  /// A model of files just created and not yet known to be named durably.
  package init(created: CrashImage) {
    self.init(initial: created)
    namesDurable = false
  }

  package static func isCrashPoint(_ event: TraceEvent) -> Bool {
    if case .fileSync = event { return true }
    return event == .processCrash || event == .directorySync
  }

  package static func open(
    at path: FilePath, trace: Trace, faults: Fault, emulatingCXL: Bool, flushInstruction: CacheLineFlushInstruction
  ) throws -> Region {
    try TracingFileMedium.open(at: path, trace: trace, faults: faults)
  }

  package mutating func apply(_ event: TraceEvent) {
    switch event {
    case .fileWrite(let file, let offset, let bytes):
      pending[file, default: []].append((offset, bytes))
    case .fileResize(let file, let length):
      pendingLength[file] = length
    case .fileSync(let file):
      for write in pending[file] ?? [] { Self.apply(write.bytes, at: write.offset, to: &durable[file, default: []]) }
      pending[file] = []
      if let length = pendingLength.removeValue(forKey: file) { Self.resize(&durable[file, default: []], to: length) }
    case .directorySync:
      namesDurable = true
    case .processCrash:
      for file in [RegionFileRole.data, .log] { apply(.fileSync(file: file)) }
    default:
      break
    }
  }

  /// Unit numbers: file (0 data, 1 log), pending write index, sector; outcome 1 writes the sector as
  /// issued, outcomes 2 and 3 (appended sectors only) leave zeros or garbage. A file's new length is a
  /// unit of its own (write index all ones), outcome 1 giving the file that length after its writes.
  package var uncertainUnits: [(unit: Int, outcomes: Int)] {
    var units: [(Int, Int)] = namesDurable ? [] : [(Self.directoryUnit, 1)]
    for (fileIndex, file) in [RegionFileRole.data, .log].enumerated() {
      if pendingLength[file] != nil { units.append((Self.lengthUnit(file: fileIndex), 1)) }
      let end = durable[file]?.count ?? 0
      for (index, write) in (pending[file] ?? []).enumerated() {
        for sector in write.offset / Self.sectorSize...(write.offset + write.bytes.count - 1) / Self.sectorSize {
          let appended = (sector + 1) * Self.sectorSize > end
          units.append((Self.unit(file: fileIndex, write: index, sector: sector), appended ? 3 : 1))
        }
      }
    }
    return units
  }

  package func image(_ choice: [Int: Int]) -> CrashImage {
    var files = durable
    for (fileIndex, file) in [RegionFileRole.data, .log].enumerated() {
      for (index, write) in (pending[file] ?? []).enumerated() {
        for sector in write.offset / Self.sectorSize...(write.offset + write.bytes.count - 1) / Self.sectorSize {
          let outcome = choice[Self.unit(file: fileIndex, write: index, sector: sector)] ?? 0
          guard outcome > 0 else { continue }
          let start = max(write.offset, sector * Self.sectorSize)
          let end = min(write.offset + write.bytes.count, (sector + 1) * Self.sectorSize)
          var bytes = Array(write.bytes[(start - write.offset)..<(end - write.offset)])
          if outcome == 2 { bytes = [UInt8](repeating: 0, count: bytes.count) }
          if outcome == 3 { bytes = bytes.indices.map { UInt8(truncatingIfNeeded: $0 &* 131 &+ sector &* 17 &+ 0x5A) } }
          Self.apply(bytes, at: start, to: &files[file, default: []])
        }
      }
      if let length = pendingLength[file], choice[Self.lengthUnit(file: fileIndex)] == 1 {
        Self.resize(&files[file, default: []], to: length)
      }
    }
    let present = namesDurable || choice[Self.directoryUnit] == 1
    return CrashImage(data: files[.data] ?? [], log: files[.log], filesPresent: present)
  }

  private static func unit(file: Int, write: Int, sector: Int) -> Int {
    (file << 56) | (write << 36) | sector
  }

  private static func lengthUnit(file: Int) -> Int {
    unit(file: file, write: (1 << 20) - 1, sector: 0)
  }

  /// Cuts `file` to `length` bytes, or extends it with zeros (allocated blocks read as zeros).
  private static func resize(_ file: inout [UInt8], to length: Int) {
    if file.count > length {
      file.removeLast(file.count - length)
    } else {
      file.append(contentsOf: repeatElement(0, count: length - file.count))
    }
  }

  private static func apply(_ bytes: [UInt8], at offset: Int, to file: inout [UInt8]) {
    if file.count < offset + bytes.count {
      file.append(contentsOf: repeatElement(0, count: offset + bytes.count - file.count))
    }
    file.replaceSubrange(offset..<offset + bytes.count, with: bytes)
  }
}
