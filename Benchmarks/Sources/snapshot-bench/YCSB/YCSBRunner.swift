import Foundation
import Snapshot
import YCSB

/// What one engine did with one workload.
struct YCSBResult: Codable {
  var engine: EngineKind
  var medium: MediumKind
  var workload: String
  var records: Int
  var operations: Int
  /// A commit after each operation with probability 1 / `commitEvery`.
  var commitEvery: Int
  var commits: Int
  var loadSeconds: Double
  var runSeconds: Double
  /// The part of `runSeconds` spent after the last commit, writing what the engine deferred (a redo
  /// journal's final checkpoint).
  var settleSeconds: Double?
  /// Bytes written to the medium during the run, when known.
  var bytesWritten: Int?
  /// Bytes of user data the run changed (100 per updated field, 1,000 per inserted record).
  var userBytes: Int
  /// Accesses to pages outside the emulated device's cache during the run (cxl only).
  var deviceMisses: Int?
  /// Operations per second of every run of this configuration, in the order they ran, when this is
  /// the median of several.
  var runsPerSecond: [Double]?

  var operationsPerSecond: Double { Double(operations) / runSeconds }
  /// Nil where the engine cannot count its writes, or the run changed nothing (workload C).
  var writeAmplification: Double? {
    guard let bytesWritten, userBytes > 0 else { return nil }
    return Double(bytesWritten) / Double(userBytes)
  }
}

/// YCSB's load and run phases on one engine: records of 10 fields of 100 bytes under YCSB's key names,
/// then the workload's operations, a commit after each with probability 1 / `commitEvery`.
struct YCSBRunner: EngineVisitor {
  let spec: WorkloadSpec
  let medium: MediumKind
  let kind: EngineKind
  let records: Int
  let operations: Int
  let commitEvery: Int
  let seed: UInt64
  /// Where the engine's files are.
  let directory: String
  /// The emulated device the engine runs on (cxl), whose misses the result reports.
  let device: DeviceLatencyModel?

  static let recordSize = CoreWorkload.fieldCount * CoreWorkload.fieldLength

  /// The most records the run can hold: those loaded and, with room to spare, those it inserts.
  static func capacity(_ spec: WorkloadSpec, records: Int, operations: Int) -> Int {
    records + Int(Double(operations) * spec.insert * 2) + 1000
  }

  /// Room for `records` records and the index.
  static func bytesNeeded(records: Int) -> Int {
    (records * 1800 + (64 << 20)) / 4096 * 4096
  }

  func visit<Engine: KeyValueEngine>(_ engine: Engine) throws -> YCSBResult {
    let keys = KeyTable(count: Self.capacity(spec, records: records, operations: operations))
    let fields = FieldPool(seed: seed)
    let record = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.recordSize, alignment: 64)
    let scanBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.recordSize * (spec.maxScanLength + 1), alignment: 64)
    defer {
      record.deallocate()
      scanBuffer.deallocate()
    }

    let loadStart = nanoseconds()
    for key in 0..<records {
      fields.fill(record, for: key)
      try keys.withKey(key) { try engine.insert($0, UnsafeRawBufferPointer(record)) }
      if key % 1000 == 999 { try engine.commit() }
    }
    try engine.commit()
    try engine.settle()
    let loadSeconds = Double(nanoseconds() - loadStart) / 1e9

    var workload = CoreWorkload(spec: spec, records: Int64(records), operations: Int64(operations), seed: seed)
    var commitChoice = RandomSource(seed: seed ^ 0xC0FF_EE00)
    var userBytes = 0, commits = 0
    let writtenBefore = bytesWritten(engine)
    let missesBefore = device?.misses ?? 0
    let start = nanoseconds()
    for index in 0..<operations {
      switch workload.next() {
      case .read(let key):
        try read(key, engine, keys, into: record)
      case .update(let key, let field):
        try update(key, field: field, engine, keys, with: fields.field(index))
        userBytes += CoreWorkload.fieldLength
      case .insert(let key):
        fields.fill(record, for: Int(key))
        try keys.withKey(Int(key)) { try engine.insert($0, UnsafeRawBufferPointer(record)) }
        userBytes += Self.recordSize
      case .scan(let key, let length):
        _ = try keys.withKey(Int(key)) { try engine.scan(from: $0, count: length, into: scanBuffer) }
      case .readModifyWrite(let key, let field):
        try read(key, engine, keys, into: record)
        try update(key, field: field, engine, keys, with: fields.field(index))
        userBytes += CoreWorkload.fieldLength
      }
      if commitEvery == 1 || commitChoice.next() % UInt64(commitEvery) == 0 {
        try engine.commit()
        commits += 1
      }
    }
    try engine.commit()
    // Deferred writes belong to the run that caused them: they are timed too, and reported apart.
    let settleStart = nanoseconds()
    try engine.settle()
    let end = nanoseconds()
    let runSeconds = Double(end - start) / 1e9
    return YCSBResult(
      engine: kind, medium: medium, workload: spec.name, records: records, operations: operations, commitEvery: commitEvery,
      commits: commits, loadSeconds: loadSeconds, runSeconds: runSeconds, settleSeconds: Double(end - settleStart) / 1e9,
      bytesWritten: bytesWritten(engine).flatMap { after in writtenBefore.map { after - $0 } }, userBytes: userBytes,
      deviceMisses: device.map { $0.misses - missesBefore })
  }

  @inline(__always)
  private func read<Engine: KeyValueEngine>(_ key: Int64, _ engine: Engine, _ keys: KeyTable, into buffer: UnsafeMutableRawBufferPointer) throws {
    guard try keys.withKey(Int(key), { try engine.read($0, into: buffer) }) else {
      throw BaselineError(description: "\(kind.rawValue) lost record \(key)")
    }
  }

  @inline(__always)
  private func update<Engine: KeyValueEngine>(
    _ key: Int64, field: Int, _ engine: Engine, _ keys: KeyTable, with bytes: UnsafeRawBufferPointer
  ) throws {
    guard try keys.withKey(Int(key), { try engine.update($0, at: field * CoreWorkload.fieldLength, with: bytes) }) else {
      throw BaselineError(description: "\(kind.rawValue) lost record \(key)")
    }
  }

  /// On a file system, what the disk under `directory` wrote (the same measure for every engine); on
  /// persistent memory, what the engine counts, if it does.
  private func bytesWritten<Engine: KeyValueEngine>(_ engine: Engine) -> Int? {
    guard medium == .file, !engine.countsFileWrites else { return engine.bytesWritten }
    return deviceBytesWritten(under: directory)
  }
}

/// Bytes the block device holding `directory` has written since it started, from the device's own
/// counter (sectors written, `/sys/dev/block/MAJOR:MINOR/stat`), after the kernel has written back all
/// it holds dirty (`sync`), so that nothing an engine left in the page cache escapes the count. It counts
/// the file system's own writes too (its journal): what the medium really got. The process's
/// `write_bytes` in `/proc/self/io` is not used: the kernel counts it per page-cache folio dirtied, and
/// with large folios an 8 KiB write and sync counted 2 MiB while the disk wrote 14 KiB.
/// The counter is the whole device's: other processes writing to it during a run are counted too.
func deviceBytesWritten(under directory: String) -> Int? {
  let descriptor = open(directory, O_RDONLY | O_DIRECTORY)
  guard descriptor >= 0 else { return nil }
  defer { close(descriptor) }
  sync()
  var status = stat()
  guard fstat(descriptor, &status) == 0 else { return nil }
  let device = UInt64(status.st_dev)
  // Linux's encoding of a device number (glibc's gnu_dev_major and gnu_dev_minor).
  let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
  let minor = (device & 0xff) | ((device >> 12) & ~0xff)
  guard let fields = try? String(contentsOfFile: "/sys/dev/block/\(major):\(minor)/stat", encoding: .utf8)
    .split(separator: " "), fields.count > 6, let sectors = Int(fields[6])
  else { return nil }
  return sectors * 512
}

/// YCSB key names for key numbers 0 ..< count, made once, so that naming costs nothing in the timed loop.
final class KeyTable {
  private let bytes: [UInt8]
  private let offsets: [Int]

  init(count: Int) {
    var bytes: [UInt8] = [], offsets = [0]
    bytes.reserveCapacity(count * 24)
    for key in 0..<count {
      bytes += CoreWorkload.keyName(Int64(key)).utf8
      offsets.append(bytes.count)
    }
    self.bytes = bytes
    self.offsets = offsets
  }

  @inline(__always)
  func withKey<R>(_ key: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offsets[key]..<offsets[key + 1]])) }
  }
}

/// Random printable field values, made once from the seed.
final class FieldPool {
  static let count = 4096
  private let bytes: UnsafeMutableRawBufferPointer

  init(seed: UInt64) {
    bytes = .allocate(byteCount: Self.count * CoreWorkload.fieldLength, alignment: 64)
    var random = RandomSource(seed: seed ^ 0xF1E1D)
    for index in 0..<bytes.count { bytes[index] = UInt8(32 + random.next() % 95) }
  }

  deinit {
    bytes.deallocate()
  }

  /// The `index`th field value (cycling through the pool).
  @inline(__always)
  func field(_ index: Int) -> UnsafeRawBufferPointer {
    let start = (index % Self.count) * CoreWorkload.fieldLength
    return UnsafeRawBufferPointer(rebasing: bytes[start..<start + CoreWorkload.fieldLength])
  }

  /// The fields of record `key` into `record`.
  func fill(_ record: UnsafeMutableRawBufferPointer, for key: Int) {
    for field in 0..<CoreWorkload.fieldCount {
      UnsafeMutableRawBufferPointer(rebasing: record[field * CoreWorkload.fieldLength..<(field + 1) * CoreWorkload.fieldLength])
        .copyMemory(from: self.field(key &* CoreWorkload.fieldCount &+ field))
    }
  }
}
