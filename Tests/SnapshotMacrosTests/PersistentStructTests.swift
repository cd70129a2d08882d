import Foundation
import SnapshotPersistent
import SystemPackage
import Testing

@Persistent
struct Child {
  var count: UInt32
  var flags: UInt16
}

enum Color: UInt8 {
  case red, green, blue
}

@Persistent
struct Node {
  var next: PersistentOffset<Node>
  var value: Int64
  var slots: InlineArray<4, UInt32>
  var pair: (UInt8, UInt8)
  var child: Child
  var color: Color
}

/// Persistent structs used through a region, as a program would.
@Suite struct PersistentStructTests {
  func region() throws -> (Region, String) {
    let directory = "/dev/shm/snapshot-macro-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return (try Region.create(at: FilePath("\(directory)/region"), size: 1 << 16), directory)
  }

  @Test func fieldsStoreOnlyTheirBytes() throws {
    let (region, directory) = try region()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let node: Node.Ref = region.pointer(to: Node.self, at: 4096)
    node.value = 5
    node.slots[2] = 9
    node.child.count += 3
    node.child.flags = 0x0102
    node.pair = (7, 8)
    node.color = .blue
    node.next = node.persistentOffset
    #expect(region.dirtyLineCount == 1)
    #expect(node.pointee.value == 5)
    #expect(node.pointee.slots[2] == 9 && node.pointee.slots[0] == 0)
    #expect(node.pointee.child.count == 3 && node.child.flags == 0x0102)
    #expect(node.pair == (7, 8) && node.color == .blue)
    #expect(region.pointer(to: node.next)?.offset == 4096)
    #expect(region.pointer(to: PersistentOffset<Node>.null) == nil)
    let valueOffset = MemoryLayout<Node>.offset(of: \Node.value)!
    #expect(region.load(Int64.self, at: 4096 + valueOffset) == 5)
    let slotOffset = MemoryLayout<Node>.offset(of: \Node.slots)!
    #expect(region.load(UInt32.self, at: 4096 + slotOffset + 8) == 9)
    try region.msync()
    try region.close()
  }

  @Test func layoutDescribesTheFields() {
    let layout = Node.persistentLayout
    #expect(layout.fields.map(\.name) == ["next", "value", "slots", "pair", "child", "color"])
    #expect(layout.fields.map(\.offset) == [
      MemoryLayout<Node>.offset(of: \Node.next)!, MemoryLayout<Node>.offset(of: \Node.value)!,
      MemoryLayout<Node>.offset(of: \Node.slots)!, MemoryLayout<Node>.offset(of: \Node.pair)!,
      MemoryLayout<Node>.offset(of: \Node.child)!, MemoryLayout<Node>.offset(of: \Node.color)!,
    ])
    #expect(layout.size == MemoryLayout<Node>.size)
    #expect(layout.fingerprint == Node.persistentLayout.fingerprint)
    #expect(layout.fingerprint != Child.persistentLayout.fingerprint)
  }

  @Test func elementIndexOutOfRangeIsCaught() async throws {
    await #expect(processExitsWith: .failure) {
      let directory = "/dev/shm/snapshot-macro-trap-\(getpid())"
      try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      let region = try Region.create(at: FilePath("\(directory)/region"), size: 1 << 16)
      // This process dies below; its files go now (the mapping outlives their names).
      try? FileManager.default.removeItem(atPath: directory)
      let node = region.pointer(to: Node.self, at: 64)
      node.slots[4] = 1
    }
  }
}
