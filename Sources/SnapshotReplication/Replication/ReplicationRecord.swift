import Snapshot

/// One message of the replicated log: a commit (or a part of a large one), self-contained and
/// checksummed.
///
/// A commit becomes one or more chunks, each at most the server's largest payload; a follower applies
/// the commit when it has its chunks 0 to count - 1 in order, so a primary that dies between two
/// chunks leaves only an incomplete commit, which nobody applies. Layout (little-endian):
///
/// | bytes | field |
/// |---|---|
/// | 0..<8 | magic `SNAPREP1` |
/// | 8..<16 | epoch: the number of the commit on the primary |
/// | 16..<24 | region size after the commit |
/// | 24..<28 | chunk index |
/// | 28..<32 | chunk count |
/// | 32..<36 | number of runs in this chunk |
/// | 36..<40 | CRC32C of every other byte of the record |
/// | 40... | runs: offset (8 bytes), length (4 bytes), then the bytes |
struct ReplicationRecord {
  static let magic: UInt64 = 0x3150_4552_5041_4E53  // "SNAPREP1"
  static let headerSize = 40
  static let runHeaderSize = 12

  var epoch: UInt64
  var size: Int
  var chunk: Int
  var chunkCount: Int
  var runs: [(offset: Int, bytes: [UInt8])]

  /// The records of one commit: the changed lines (runs of consecutive ones merged) of `working`,
  /// cut so that no record exceeds `maximumRecordSize` bytes.
  static func records(
    epoch: UInt64, size: Int, lines: UnsafeBufferPointer<UInt32>, working: UnsafeRawPointer, maximumRecordSize: Int
  ) -> [[UInt8]] {
    precondition(maximumRecordSize >= headerSize + runHeaderSize + 64)
    var chunks: [[(offset: Int, bytes: [UInt8])]] = [[]]
    var used = headerSize
    for (first, count) in lines.lineRuns {
      var offset = first * 64
      let end = min((first + count) * 64, size)
      while offset < end {
        if used + runHeaderSize >= maximumRecordSize {
          chunks.append([])
          used = headerSize
        }
        let length = min(end - offset, maximumRecordSize - used - runHeaderSize)
        chunks[chunks.count - 1].append((offset, Array(UnsafeRawBufferPointer(start: working + offset, count: length))))
        used += runHeaderSize + length
        offset += length
      }
    }
    return chunks.enumerated().map { index, runs in
      ReplicationRecord(epoch: epoch, size: size, chunk: index, chunkCount: chunks.count, runs: runs).encoded
    }
  }

  var encoded: [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(Self.headerSize + runs.reduce(0) { $0 + Self.runHeaderSize + $1.bytes.count })
    bytes.append(little: Self.magic)
    bytes.append(little: epoch)
    bytes.append(little: UInt64(size))
    bytes.append(little: UInt32(chunk))
    bytes.append(little: UInt32(chunkCount))
    bytes.append(little: UInt32(runs.count))
    bytes.append(little: UInt32(0))
    for run in runs {
      bytes.append(little: UInt64(run.offset))
      bytes.append(little: UInt32(run.bytes.count))
      bytes.append(contentsOf: run.bytes)
    }
    let checksum = Self.checksum(bytes)
    withUnsafeBytes(of: checksum.littleEndian) { bytes.replaceSubrange(36..<40, with: $0) }
    return bytes
  }

  /// Decodes and checks a record; nil for anything that is not a whole, intact record.
  init?(decoding bytes: [UInt8]) {
    var reader = LittleEndianReader(bytes)
    guard bytes.count >= Self.headerSize, reader.read(UInt64.self) == Self.magic,
      let epoch = reader.read(UInt64.self), let size = reader.read(UInt64.self), let chunk = reader.read(UInt32.self),
      let chunkCount = reader.read(UInt32.self), let runCount = reader.read(UInt32.self), let checksum = reader.read(UInt32.self),
      checksum == Self.checksum(bytes), chunk < chunkCount, size <= UInt64(Int.max)
    else { return nil }
    var runs: [(offset: Int, bytes: [UInt8])] = []
    for _ in 0..<runCount {
      guard let offset = reader.read(UInt64.self), let length = reader.read(UInt32.self), let run = reader.read(count: Int(length)),
        offset <= size, UInt64(length) <= size - offset
      else { return nil }
      runs.append((Int(offset), run))
    }
    guard reader.isAtEnd else { return nil }
    self.init(epoch: epoch, size: Int(size), chunk: Int(chunk), chunkCount: Int(chunkCount), runs: runs)
  }

  init(epoch: UInt64, size: Int, chunk: Int, chunkCount: Int, runs: [(offset: Int, bytes: [UInt8])]) {
    self.epoch = epoch
    self.size = size
    self.chunk = chunk
    self.chunkCount = chunkCount
    self.runs = runs
  }

  /// CRC32C of the record but its checksum field.
  private static func checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { all in
      CRC32C.update(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[0..<36])), UnsafeRawBufferPointer(rebasing: all[40...]))
    }
  }
}

extension [UInt8] {
  mutating func append<T: FixedWidthInteger>(little value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }
}

/// Reads little-endian integers and byte runs off an array, failing softly at its end.
struct LittleEndianReader {
  let bytes: [UInt8]
  var position = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var isAtEnd: Bool { position == bytes.count }

  mutating func read<T: FixedWidthInteger>(_ type: T.Type) -> T? {
    guard bytes.count - position >= MemoryLayout<T>.size else { return nil }
    var value = T.zero
    for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[position + index]) }
    position += MemoryLayout<T>.size
    return value
  }

  mutating func read(count: Int) -> [UInt8]? {
    guard bytes.count - position >= count else { return nil }
    defer { position += count }
    return Array(bytes[position..<position + count])
  }
}
