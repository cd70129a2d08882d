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
/// | 32 | 8 | resting log size in bytes (format 1: the log area on persistent memory, 0 on a file) |
/// | 40 | 8 | salt: a random number mixed into every log checksum |
/// | 48 | 16 | zero |
///
/// Every format version keeps the magic, the version and this checksum where they are, so a version
/// number is believed only under a checksum that holds: a damaged header is reported as damaged, not
/// as a file from another version.
///
/// Format 4 checksums each line of a redo batch with XXH3-64 rather than CRC32C
/// (`RedoJournalLayout.LineChecksum`): the rest of the file, the undo journal's entries too, is as in
/// format 3. A file of an older format is still written as it was.
///
/// Format 3 lets a redo region grow: its size is the header line's until `SizeRecords` in the header
/// page say otherwise. Older formats keep the size they were created with.
///
/// Format 2 bounds the redo log: it rests at the size recorded here and grows only for a commit that
/// does not fit, back to this size at the next checkpoint (on persistent memory the log is the end of
/// the data file, so the file is between `restingFileSize` and `largestFileSize` long). Format 1 files
/// open as format 2 files whose log rests at the size format 1 gave it.
package struct RegionHeader: Equatable, Sendable {
  static let magic: UInt64 = 0x544F_4853_5041_4E53  // "SNAPSHOT"
  package static let formatVersion: UInt32 = 4
  /// The format versions this library opens.
  static let readableVersions: ClosedRange<UInt32> = 1...4
  /// The header page: this line, the journal's control line, and padding to a page boundary.
  static let pageSize = 4096
  /// Where the journal's control line starts.
  static let controlOffset = 64
  /// Line indices are 32-bit in log records.
  static let maximumDataSize = Int(UInt32.max) * 64

  package var backing: Region.Backing
  package var journal: Region.Journal
  /// The data size: the size the region was created with in the header line, the size it has grown
  /// to once `SizeRecords` have been resolved.
  package var dataSize: Int
  /// The size the log rests at between checkpoints: on persistent memory the log area at the end of
  /// the data file, on a file the batch area of the log file.
  package var logSize: Int
  package var salt: UInt64
  /// The format version the file was written in.
  package var version: UInt32 = formatVersion

  package var dataOffset: Int { Self.pageSize }
  package var logOffset: Int { Self.pageSize + dataSize }
  package var lineCount: Int { dataSize / 64 }
  /// How this format checksums each line of a redo batch.
  package var lineChecksum: RedoJournalLayout.LineChecksum { .init(formatVersion: version) }

  /// The data file's size while the log rests.
  var restingFileSize: Int { backing == .file ? logOffset : logOffset + logSize }
  /// The largest the data file can be: on persistent memory, with a log grown for a commit of every
  /// line.
  var largestFileSize: Int { backing == .file ? logOffset : logOffset + largestLogSize }
  /// The log a commit of every line needs: what the log grows to at most.
  var largestLogSize: Int { journal.memoryLayout.logSize(lineCount: lineCount) }

  /// Whether the region can grow: format 3 and the redo journal (the undo journal's log is sized for
  /// every line at creation, and older formats have no size records an older library would heed).
  var canGrow: Bool { version >= 3 && journal == .redo }

  /// This header with the data size `size`.
  package func resized(to size: Int) -> RegionHeader {
    var header = self
    header.dataSize = size
    return header
  }

  /// The 64 bytes of the header line.
  func encoded() -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 64)
    bytes.withUnsafeMutableBytes { raw in
      raw.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt64.self)
      raw.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt32.self)
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
    guard readableVersions.contains(version) else {
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
    var header = RegionHeader(
      backing: backing, journal: journal, dataSize: Int(dataSize), logSize: 0, salt: word(40), version: version)
    if version == 1 && backing == .file {
      // Format 1 recorded no log size for a file; its log file rested at this size.
      header.logSize = min(header.largestLogSize, FileRedoJournal<FileStorage>.defaultCheckpointThreshold)
    } else {
      guard header.allowedLogSizes.contains(Int(clamping: logSize)), logSize % UInt64(pageSize) == 0 else {
        throw .headerCorrupt(path: path, reason: "log size \(logSize) does not fit data size \(dataSize)")
      }
      header.logSize = Int(logSize)
    }
    return header
  }

  /// A new region's header: `size` rounded up to whole pages, a random salt, and the log's resting size:
  /// `logSize` if given, else the default policy (`defaultLogSize(dataSize:backing:)`), rounded up to pages and
  /// at most what a commit of every line needs. The undo journal's log is always that large: it logs
  /// at the first store to a line, where a full log could not grow.
  static func new(size: Int, backing: Region.Backing, journal: Region.Journal, logSize: Int? = nil) throws(SnapshotError) -> RegionHeader {
    guard size > 0 else { throw .invalidSize(requested: size, reason: "a region needs at least one byte") }
    guard size <= maximumDataSize else {
      throw .invalidSize(requested: size, reason: "larger than the largest region (\(maximumDataSize) bytes)")
    }
    guard backing == .persistentMemory || journal == .redo else {
      throw .invalidOptions(reason: "a region on a file uses the redo journal; choose --journal redo or the pm medium")
    }
    if let logSize, logSize <= 0 {
      throw .invalidSize(requested: logSize, reason: "a log needs at least one byte")
    }
    if logSize != nil && journal == .undo {
      throw .invalidOptions(reason: "the undo journal's log is sized for a commit of every line (it logs at the first store to a line, where a full log could not grow); leave out the log size, or choose the redo journal")
    }
    var header = RegionHeader(
      backing: backing, journal: journal, dataSize: roundUp(size, to: pageSize), logSize: 0, salt: .random(in: 1...UInt64.max))
    let requested = logSize ?? Self.defaultLogSize(dataSize: header.dataSize, backing: backing)
    header.logSize = journal == .undo ? header.largestLogSize : min(roundUp(requested, to: pageSize), header.largestLogSize)
    return header
  }

  /// The resting log size chosen when none is given: what the journal's default checkpoint threshold
  /// lets accumulate between two checkpoints (64 MiB on persistent memory, 16 MiB on a file), so that
  /// checkpoints come no more often than with a log for every line; on persistent memory a sixteenth
  /// of the data if that is more, so that a large region's checkpoints still write many commits home
  /// at once. The file is thus little larger than the data (1.06 times from 1 GiB up).
  static func defaultLogSize(dataSize: Int, backing: Region.Backing) -> Int {
    backing == .file
      ? FileRedoJournal<FileStorage>.defaultCheckpointThreshold
      : max(MemoryRedoJournal<PersistentMemory>.defaultCheckpointThreshold, dataSize / 16)
  }

  /// The resting log sizes a header may record: whole pages, from one page to a commit of every line;
  /// the undo journal's log is always that largest size.
  private var allowedLogSizes: ClosedRange<Int> {
    journal == .undo ? largestLogSize...largestLogSize : Self.pageSize...largestLogSize
  }
}
