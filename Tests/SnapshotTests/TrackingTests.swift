import Testing
@testable import Snapshot
import SnapshotTestSupport

@Suite struct TrackingTests {
  struct Account: Equatable {
    var id: UInt64
    var balance: Int64
    var flags: UInt8
  }

  @Test func storesMarkEveryLineTheyTouch() throws {
    let directory = TestDirectory()
    let region = try Region.create(at: directory.file("region"), size: 8192)
    region.store(UInt32(0xDEAD_BEEF), at: 62)  // spans lines 0 and 1
    #expect(region.dirtyLineCount == 2)
    region.store(UInt8(1), at: 63)  // line 0 again
    #expect(region.dirtyLineCount == 2)
    region.fill(7, at: 200, count: 1000)  // lines 3 through 18
    #expect(region.dirtyLineCount == 18)
    region.copy(from: 0, to: 4096, count: 65)  // lines 64 and 65
    #expect(region.dirtyLineCount == 20)
    region.store(UInt64.max, at: 8184)  // the last line
    #expect(region.dirtyLineCount == 21)
    region._changes.lines._checkInvariants(lineCount: 128)
    #expect(Set(region._changes.lines.lines) == Set([0, 1, 64, 65, 127] + Array(3...18)))
    #expect(region.load(UInt32.self, at: 62) == 0xDEAD_01EF)
    try region.msync()
    #expect(region.dirtyLineCount == 0)
    region._changes.lines._checkInvariants(lineCount: 128)
  }

  @Test func unalignedValuesRoundTrip() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 4096)
    for offset in [1, 3, 61, 63, 127, 4088] {
      region.store(UInt64(offset) &* 0x0101_0101_0101_0101, at: offset)
      #expect(region.load(UInt64.self, at: offset) == UInt64(offset) &* 0x0101_0101_0101_0101)
    }
    try region.msync()
    try region.close()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt64.self, at: 4088) == UInt64(4088) &* 0x0101_0101_0101_0101)
  }

  @Test func trackedPointerMembersStoreAtFieldOffsets() throws {
    let directory = TestDirectory()
    let region = try Region.create(at: directory.file("region"), size: 4096)
    let account = region.pointer(to: Account.self, at: 128)
    account.balance = -250
    #expect(region.dirtyLineCount == 1)
    #expect(region.load(Int64.self, at: 128 + MemoryLayout<Account>.offset(of: \.balance)!) == -250)
    account.id = 9
    account.flags = 3
    #expect(account.pointee == Account(id: 9, balance: -250, flags: 3))
    let accounts = region.pointer(to: Account.self, at: 1024)
    accounts[3].balance = 77
    #expect(accounts.advanced(by: 3).balance == 77)
    #expect(region.load(Int64.self, at: 1024 + 3 * MemoryLayout<Account>.stride + 8) == 77)
    let balance = account.pointer(to: \.balance)
    balance.pointee += 1
    #expect(account.balance == -249)
  }

  /// The working copy is mapped at a new address on every open; data that links by offset survives.
  @Test func reopeningAtAnotherAddressKeepsOffsetLinkedData() throws {
    struct Node { var next: UInt64; var value: UInt64 }
    let directory = TestDirectory()
    let path = directory.file("region")
    let first = try Region.create(at: path, size: 64 << 10)
    var offset = 64
    let order = [900, 4000, 300, 20000, 64]
    for (index, next) in order.enumerated() {
      let node = first.pointer(to: Node.self, at: offset)
      node.value = UInt64(index * 11)
      node.next = index == order.count - 1 ? 0 : UInt64(next)
      offset = next
    }
    try first.msync()
    try first.close()
    // `first` still holds its working copy, so the reopened one cannot land at the same address.
    let second = try Region.open(at: path)
    #expect(second._working != first._working)
    var values: [UInt64] = []
    var cursor = 64
    while true {
      let node = second.pointer(to: Node.self, at: cursor)
      values.append(node.value)
      if node.next == 0 { break }
      cursor = Int(node.next)
    }
    #expect(values == [0, 11, 22, 33, 44])
  }
}
