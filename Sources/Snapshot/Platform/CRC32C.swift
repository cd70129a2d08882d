import CSnapshotPlatform

/// CRC32C (Castagnoli), the checksum of every header and log record.
///
/// Uses the SSE4.2 `crc32` instruction when the processor has it and a table otherwise; both give the
/// same values. `update` continues a running CRC without the final inversion, so that records made of
/// several pieces can be checksummed without copying them together. Hot loops take an
/// ``Implementation`` chosen once, rather than asking which to use at every step.
public enum CRC32C {
  /// The checksum of `bytes`: initial value and final inversion as in RFC 3720.
  public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    ~Implementation.detected.update(~0, bytes)
  }

  /// Continues a running, uninverted CRC over `bytes`.
  public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    Implementation.detected.update(crc, bytes)
  }

  /// Continues a running, uninverted CRC over the 8 bytes of `word`, little-endian.
  public static func update(_ crc: UInt32, word: UInt64) -> UInt32 {
    Implementation.detected.update(crc, word: word)
  }

  /// The two ways of computing the same CRC.
  public enum Implementation: Sendable {
    /// The SSE4.2 `crc32` instruction.
    case hardware
    /// A byte-at-a-time table.
    case portable

    /// The implementation this processor supports.
    public static let detected: Implementation = CPUFeatures.current.hasCRC32C ? .hardware : .portable

    /// Continues a running, uninverted CRC over the 8 bytes of `word`, little-endian.
    @inline(__always)
    public func update(_ crc: UInt32, word: UInt64) -> UInt32 {
      switch self {
      case .hardware: return snapshot_crc32c_u64(crc, word)
      case .portable: return withUnsafeBytes(of: word.littleEndian) { CRC32C.portableUpdate(crc, $0) }
      }
    }

    /// Continues a running, uninverted CRC over `bytes`.
    public func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
      switch self {
      case .hardware: return CRC32C.hardwareUpdate(crc, bytes)
      case .portable: return CRC32C.portableUpdate(crc, bytes)
      }
    }

    /// The uninverted CRC of one 64-byte line, as an independent chain: a loop over many lines can keep
    /// several of these in flight at once, which one long chain would not allow.
    @inline(__always)
    func lineCRC(_ line: UnsafeRawPointer) -> UInt32 {
      guard case .hardware = self else {
        return CRC32C.portableUpdate(~0, UnsafeRawBufferPointer(start: line, count: 64))
      }
      var crc: UInt32 = ~0
      for offset in stride(from: 0, to: 64, by: 8) {
        crc = snapshot_crc32c_u64(crc, line.load(fromByteOffset: offset, as: UInt64.self))
      }
      return crc
    }
  }

  static func hardwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
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

  static func portableUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc = crc
    for byte in bytes {
      crc = table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8)
    }
    return crc
  }

  /// The byte-at-a-time table for the reflected polynomial 0x82F63B78.
  private static let table: [UInt32] = (0..<256).map { index in
    var value = UInt32(index)
    for _ in 0..<8 {
      value = value & 1 != 0 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1
    }
    return value
  }
}
