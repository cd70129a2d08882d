import Testing
@testable import Snapshot

@Suite struct XXH3Tests {
  /// The line hash against values of the reference implementation (xxHash's `XXH3_64bits`, seed 0).
  @Test func knownVectors() {
    func hash(_ bytes: [UInt8]) -> UInt64 {
      let line = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
      defer { line.deallocate() }
      line.copyMemory(from: bytes, byteCount: 64)
      return XXH3.hash(line: line)
    }
    #expect(hash([UInt8](repeating: 0, count: 64)) == 0x2FFB_6918_C12C_256E)
    #expect(hash((0..<64).map { UInt8($0) }) == 0x6187_EB90_89B0_ED55)
    #expect(hash([UInt8](repeating: 0xFF, count: 64)) == 0x7992_EE02_8833_0C4F)
    #expect(hash((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }) == 0x8E74_64FF_DF82_C775)
  }

  /// A torn or damaged line must not keep its hash: every single-bit change of these lines changes it.
  @Test func everyBitFlipChangesTheHash() {
    let line = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    defer { line.deallocate() }
    for fill: UInt8 in [0x00, 0xFF, 0x5A] {
      line.initializeMemory(as: UInt8.self, repeating: fill, count: 64)
      let original = XXH3.hash(line: line)
      var unchanged: [Int] = []
      for bit in 0..<512 {
        line.storeBytes(of: line.load(fromByteOffset: bit / 8, as: UInt8.self) ^ UInt8(1 << (bit % 8)), toByteOffset: bit / 8, as: UInt8.self)
        if XXH3.hash(line: line) == original { unchanged.append(bit) }
        line.storeBytes(of: fill, toByteOffset: bit / 8, as: UInt8.self)
      }
      #expect(unchanged.isEmpty, "fill \(fill): flipping bits \(unchanged.prefix(8)) left the hash unchanged")
    }
  }
}
