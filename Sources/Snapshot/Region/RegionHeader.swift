/// The first line of a region file: what the file is and how it is laid out. Written once, at
/// creation, and covered by a CRC32C. The mutable state of the commit protocol (the epoch, the log
/// state) lives in the journal's control line right after it, in the same 4 KiB header page.
///
/// Layout, little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic "SNAPSHOT" |
/// | 8 | 4 | format version |
/// | 12 | 4 | CRC32C of bytes 0..<64 with this field zero |
/// | 16 | 1 | medium |
/// | 17 | 1 | journal |
/// | 18 | 6 | zero |
/// | 24 | 8 | data size in bytes |
/// | 32 | 8 | log size in bytes |
/// | 40 | 8 | salt: a random number mixed into every log checksum |
/// | 48 | 16 | zero |
///
/// Every format version keeps the magic, the version and this checksum where they are, so a version
/// number is believed only under a checksum that holds: a damaged header is reported as damaged, not
/// as a file from another version.
package struct RegionHeader: Equatable, Sendable {
  static let magic: UInt64 = 0x544F_4853_5041_4E53  // "SNAPSHOT"
  package static let formatVersion: UInt32 = 1
  /// The header page: this line, the journal's control line, and padding to a page boundary.
  static let pageSize = 4096
  /// Where the journal's control line starts.
  static let controlOffset = 64
  /// Line indices are 32-bit in log records.
  static let maximumDataSize = Int(UInt32.max) * 64

  package var backing: Region.Backing
  package var journal: Region.Journal
  package var dataSize: Int
  package var logSize: Int
  package var salt: UInt64

  package var dataOffset: Int { Self.pageSize }
  package var logOffset: Int { Self.pageSize + dataSize }
  var fileSize: Int { logOffset + logSize }
  package var lineCount: Int { dataSize / 64 }

  /// The 64 bytes of the header line.
  func encoded() -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 64)
    bytes.withUnsafeMutableBytes { raw in
      raw.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt64.self)
      raw.storeBytes(of: Self.formatVersion.littleEndian, toByteOffset: 8, as: UInt32.self)
      raw[16] = backing.rawValue
      raw[17] = journal.rawValue
      raw.storeBytes(of: UInt64(dataSize).littleEndian, toByteOffset: 24, as: UInt64.self)
      raw.storeBytes(of: UInt64(logSize).littleEndian, toByteOffset: 32, as: UInt64.self)
      raw.storeBytes(of: salt.littleEndian, toByteOffset: 40, as: UInt64.self)
      let checksum = CRC32C.checksum(UnsafeRawBufferPointer(raw))
      raw.storeBytes(of: checksum.littleEndian, toByteOffset: 12, as: UInt32.self)
    }
    return bytes
  }

  /// Reads and checks a header line: magic, version, checksum, then that the layout makes sense.
  /// The file size is checked separately by the caller, which knows the path.
  package static func decode(_ raw: [UInt8], path: String) throws(SnapshotError) -> RegionHeader {
    precondition(raw.count >= 64)
    func word(_ offset: Int) -> UInt64 {
      raw.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }
    func halfWord(_ offset: Int) -> UInt32 {
      raw.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }
    guard word(0) == magic else { throw .notARegion(path: path) }
    var copy = [UInt8](raw[0..<64])
    let stored = halfWord(12)
    copy[12..<16] = [0, 0, 0, 0]
    let computed = copy.withUnsafeBytes { CRC32C.checksum($0) }
    guard stored == computed else {
      throw .headerCorrupt(path: path, reason: "checksum mismatch (stored \(hex(stored)), computed \(hex(computed)))")
    }
    let version = halfWord(8)
    guard version == formatVersion else {
      throw .unsupportedFormatVersion(path: path, found: version, supported: formatVersion)
    }
    guard let backing = Region.Backing(rawValue: raw[16]) else {
      throw .headerCorrupt(path: path, reason: "unknown medium \(raw[16])")
    }
    guard let journal = Region.Journal(rawValue: raw[17]) else {
      throw .headerCorrupt(path: path, reason: "unknown journal \(raw[17])")
    }
    let dataSize = word(24)
    let logSize = word(32)
    guard dataSize > 0, dataSize % UInt64(pageSize) == 0, dataSize <= UInt64(maximumDataSize) else {
      throw .headerCorrupt(path: path, reason: "impossible data size \(dataSize)")
    }
    let header = RegionHeader(
      backing: backing, journal: journal, dataSize: Int(dataSize), logSize: 0, salt: word(40))
    guard logSize == UInt64(header.requiredLogSize) else {
      throw .headerCorrupt(path: path, reason: "log size \(logSize) does not fit data size \(dataSize)")
    }
    return RegionHeader(
      backing: backing, journal: journal, dataSize: Int(dataSize), logSize: Int(logSize), salt: word(40))
  }

  /// A new region's header: `size` rounded up to whole pages, a random salt, and the log size the
  /// journal needs.
  static func new(size: Int, backing: Region.Backing, journal: Region.Journal) throws(SnapshotError) -> RegionHeader {
    guard size > 0 else { throw .invalidSize(requested: size, reason: "a region needs at least one byte") }
    guard size <= maximumDataSize else {
      throw .invalidSize(requested: size, reason: "larger than the largest region (\(maximumDataSize) bytes)")
    }
    guard backing == .persistentMemory || journal == .redo else {
      throw .invalidOptions(reason: "a region on a file uses the redo journal; choose --journal redo or the pm medium")
    }
    var header = RegionHeader(
      backing: backing, journal: journal, dataSize: roundUp(size, to: pageSize), logSize: 0, salt: .random(in: 1...UInt64.max))
    header.logSize = header.requiredLogSize
    return header
  }

  /// The log size in the data file: on persistent memory enough for the largest possible commit; on a
  /// file none, since the log is a file of its own that grows when a commit needs it.
  var requiredLogSize: Int {
    backing == .file ? 0 : journal.memoryLayout.logSize(lineCount: lineCount)
  }

  /// How much of a new log file is written ahead: room for the commits between two checkpoints, or
  /// for the largest possible commit if that is less.
  package var initialLogCapacity: Int {
    min(RedoJournalLayout.logSize(lineCount: lineCount), FileRedoJournal<FileStorage>.defaultCheckpointThreshold)
  }
}
