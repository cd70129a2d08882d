import CSnapshotPlatform

/// CRC32C (Castagnoli), the checksum of every header and log record.
///
/// Uses the SSE4.2 `crc32` instruction when the processor has it and a table otherwise; both give the
/// same values. `update` continues a running CRC without the final inversion, so that records made of
/// several pieces can be checksummed without copying them together.
public enum CRC32C {
  /// The checksum of `bytes`: initial value and final inversion as in RFC 3720.
  @inlinable
  public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    ~update(~0, bytes)
  }

  /// The checksum of a value's bytes.
  @inlinable
  public static func checksum<T: BitwiseCopyable>(of value: T) -> UInt32 {
    withUnsafeBytes(of: value) { checksum($0) }
  }

  /// Continues a running, uninverted CRC over `bytes`.
  @inlinable
  public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    if _hardware {
      return _hardwareUpdate(crc, bytes)
    }
    return _portableUpdate(crc, bytes)
  }

  /// Continues a running, uninverted CRC over the 8 bytes of `word`, little-endian.
  @inlinable @inline(__always)
  public static func update(_ crc: UInt32, word: UInt64) -> UInt32 {
    if _hardware {
      return snapshot_crc32c_u64(crc, word)
    }
    return withUnsafeBytes(of: word.littleEndian) { _portableUpdate(crc, $0) }
  }

  /// The uninverted CRC of one 64-byte line, as an independent chain: a loop over many lines can keep
  /// several of these in flight at once, which one long chain would not allow.
  @inlinable @inline(__always)
  static func lineCRC(_ line: UnsafeRawPointer) -> UInt32 {
    guard _hardware else {
      return _portableUpdate(~0, UnsafeRawBufferPointer(start: line, count: 64))
    }
    var crc: UInt32 = ~0
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 40, as: UInt64.self))
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 48, as: UInt64.self))
    crc = snapshot_crc32c_u64(crc, line.loadUnaligned(fromByteOffset: 56, as: UInt64.self))
    return crc
  }

  @usableFromInline
  static let _hardware = CPUFeatures.current.hasCRC32C

  @usableFromInline
  static func _hardwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc = crc
    var index = 0
    let count = bytes.count
    while index + 8 <= count {
      crc = snapshot_crc32c_u64(crc, bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
      index += 8
    }
    while index < count {
      crc = snapshot_crc32c_u8(crc, bytes[index])
      index += 1
    }
    return crc
  }

  @usableFromInline
  static func _portableUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc = crc
    for byte in bytes {
      crc = _table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8)
    }
    return crc
  }

  /// The byte-at-a-time table for the reflected polynomial 0x82F63B78.
  static let _table: [UInt32] = (0..<256).map { index in
    var value = UInt32(index)
    for _ in 0..<8 {
      value = value & 1 != 0 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1
    }
    return value
  }
}
