import Testing
@testable import Snapshot
import SnapshotVerification

@Suite struct CRC32CTests {
  @Test func knownVectors() {
    let digits = Array("123456789".utf8)
    #expect(digits.withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
    let zeros = [UInt8](repeating: 0, count: 32)
    #expect(zeros.withUnsafeBytes { CRC32C.checksum($0) } == 0x8A91_36AA)
    let ones = [UInt8](repeating: 0xFF, count: 32)
    #expect(ones.withUnsafeBytes { CRC32C.checksum($0) } == 0x62A8_AB43)
  }

  @Test func hardwareAndPortableAgree() {
    var generator = SeededGenerator(seed: 7)
    for length in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
      let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      bytes.withUnsafeBytes { raw in
        #expect(CRC32C.hardwareUpdate(~0, raw) == CRC32C.portableUpdate(~0, raw), "length \(length)")
      }
    }
  }

  @Test(arguments: [CRC32C.Implementation.hardware, .portable])
  func wordUpdateMatchesBytes(implementation: CRC32C.Implementation) {
    let word: UInt64 = 0x0123_4567_89AB_CDEF
    let viaBytes = withUnsafeBytes(of: word.littleEndian) { CRC32C.portableUpdate(~0, $0) }
    #expect(implementation.update(~0, word: word) == viaBytes)
  }

  @Test(arguments: [CRC32C.Implementation.hardware, .portable])
  func lineCRCMatchesBytes(implementation: CRC32C.Implementation) {
    let line = (0..<64).map { UInt8($0 * 3) }
    line.withUnsafeBytes { raw in
      #expect(implementation.lineCRC(raw.baseAddress!) == CRC32C.portableUpdate(~0, raw))
    }
  }
}
