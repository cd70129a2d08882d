/// The first sector of a region's log file: which region it belongs to, the salt its current batches
/// carry, and the epoch the data file holds durably. It fits in one 512-byte sector, so that rewriting
/// it (a checkpoint resets the log with a new salt) is atomic.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic "SNAPLOG1" |
/// | 8 | 4 | format version |
/// | 12 | 4 | CRC32C of bytes 0..<64 with this field zero |
/// | 16 | 8 | the region's salt (from the data file's header) |
/// | 24 | 8 | the log's salt: batches written since the last reset carry it |
/// | 32 | 8 | checkpoint epoch: every commit up to it is in the data file |
///
/// Batches follow from offset 4096, in the format of `RedoJournalLayout`, with the log's salt.
package struct LogFileHeader: Equatable {
  static let magic: UInt64 = 0x3147_4F4C_5041_4E53  // "SNAPLOG1"
  /// The log file's own format version: unchanged since the region header's format 1.
  package static let formatVersion: UInt32 = 1
  static let size = 512
  /// Where the first batch starts.
  package static let batchesOffset = 4096

  var regionSalt: UInt64
  package var logSalt: UInt64
  var checkpointEpoch: UInt64

  func encoded() -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: Self.size)
    bytes.withUnsafeMutableBytes { raw in
      raw.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt64.self)
      raw.storeBytes(of: Self.formatVersion.littleEndian, toByteOffset: 8, as: UInt32.self)
      raw.storeBytes(of: regionSalt.littleEndian, toByteOffset: 16, as: UInt64.self)
      raw.storeBytes(of: logSalt.littleEndian, toByteOffset: 24, as: UInt64.self)
      raw.storeBytes(of: checkpointEpoch.littleEndian, toByteOffset: 32, as: UInt64.self)
      let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<64]))
      raw.storeBytes(of: checksum.littleEndian, toByteOffset: 12, as: UInt32.self)
    }
    return bytes
  }

  /// Reads and checks a log header: magic, version, checksum, and that it belongs to the region.
  package static func decode(_ raw: [UInt8], regionSalt: UInt64, path: String) throws(SnapshotError) -> LogFileHeader {
    guard raw.count >= 64 else { throw .logCorrupt(path: path, reason: "the log file has no header") }
    func word(_ offset: Int) -> UInt64 {
      raw.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }
    guard word(0) == magic else { throw .logCorrupt(path: path, reason: "the log file has the wrong magic number") }
    // The version is believed only under a checksum that holds, as in the region header.
    var copy = Array(raw[0..<64])
    copy[12..<16] = [0, 0, 0, 0]
    guard UInt32(truncatingIfNeeded: word(8) >> 32) == copy.withUnsafeBytes({ CRC32C.checksum($0) }) else {
      throw .logCorrupt(path: path, reason: "the log header fails its checksum")
    }
    let version = UInt32(truncatingIfNeeded: word(8))
    guard version == Self.formatVersion else {
      throw .unsupportedFormatVersion(path: path, found: version, supported: Self.formatVersion)
    }
    guard word(16) == regionSalt else {
      throw .logCorrupt(path: path, reason: "the log file belongs to another region")
    }
    return LogFileHeader(regionSalt: regionSalt, logSalt: word(24), checkpointEpoch: word(32))
  }
}
