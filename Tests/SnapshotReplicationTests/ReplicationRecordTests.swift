import XCTest

@testable import SnapshotReplication

/// The record format on its own: a commit cut into records within the size limit, and decoding
/// that takes nothing damaged.
final class ReplicationRecordTests: XCTestCase {
  func testACommitIsCutIntoRecordsThatSayWhereTheyBelongAndDecodeBack() throws {
    var working = [UInt8](repeating: 0, count: 64 * 100)
    for index in working.indices { working[index] = UInt8(truncatingIfNeeded: index * 7) }
    let lines: [UInt32] = [3, 4, 5, 50, 10, 11, 99]
    let records = lines.withUnsafeBufferPointer { lines in
      working.withUnsafeBytes { ReplicationRecord.records(epoch: 9, size: 6400, lines: lines, working: $0.baseAddress!, maximumRecordSize: 200) }
    }
    XCTAssertGreaterThan(records.count, 1)
    var rebuilt = [UInt8](repeating: 0, count: 6400)
    var covered = 0
    for (index, bytes) in records.enumerated() {
      XCTAssertLessThanOrEqual(bytes.count, 200)
      let record = try XCTUnwrap(ReplicationRecord(decoding: bytes))
      XCTAssertEqual([record.epoch, UInt64(record.size), UInt64(record.chunk), UInt64(record.chunkCount)], [9, 6400, UInt64(index), UInt64(records.count)])
      for run in record.runs {
        rebuilt.replaceSubrange(run.offset..<run.offset + run.bytes.count, with: run.bytes)
        covered += run.bytes.count
      }
    }
    XCTAssertEqual(covered, lines.count * 64)
    for line in lines.map(Int.init) {
      XCTAssertEqual(rebuilt[line * 64..<line * 64 + 64], working[line * 64..<line * 64 + 64])
    }
  }

  func testEveryDamagedOrTruncatedRecordIsRefused() throws {
    let record = ReplicationRecord(epoch: 3, size: 4096, chunk: 0, chunkCount: 1, runs: [(128, Array(repeating: 0xAB, count: 64))]).encoded
    XCTAssertEqual(ReplicationRecord(decoding: record)?.epoch, 3)
    for index in record.indices {
      var damaged = record
      damaged[index] ^= 0x10
      XCTAssertNil(ReplicationRecord(decoding: damaged), "bit flipped in byte \(index)")
    }
    for length in 0..<record.count {
      XCTAssertNil(ReplicationRecord(decoding: Array(record.prefix(length))), "cut to \(length) bytes")
    }
    // A run past the region's end is refused even with a valid checksum.
    let outside = ReplicationRecord(epoch: 3, size: 4096, chunk: 0, chunkCount: 1, runs: [(4090, Array(repeating: 1, count: 64))]).encoded
    XCTAssertNil(ReplicationRecord(decoding: outside))
  }
}
