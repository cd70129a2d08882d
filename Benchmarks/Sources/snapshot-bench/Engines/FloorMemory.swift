import SnapshotKV

/// Ordinary memory whose stores name the lines they change to a `RedoFloor`: the same containers as
/// Snapshot's and ordinary memory's, with nothing added to an update but what the commit of a redo log
/// of whole lines must write and fence (the `floor` engine). Not crash-consistent: the floor's log
/// has no checksum and no recovery.
struct FloorMemory: ContainerMemory {
  let plain: PlainMemory
  let floor: RedoFloor

  var size: Int { plain.size }
  @inline(__always) func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T { plain.load(T.self, at: offset) }

  @inline(__always) func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
    plain.store(value, at: offset)
    floor.noteChange(at: offset, count: MemoryLayout<T>.size)
  }

  @inline(__always) func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) {
    plain.copy(from: bytes, to: offset)
    floor.noteChange(at: offset, count: bytes.count)
  }

  @inline(__always) func fill(_ byte: UInt8, at offset: Int, count: Int) {
    plain.fill(byte, at: offset, count: count)
    floor.noteChange(at: offset, count: count)
  }

  @inline(__always) func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    plain.withBytes(at: offset, count: count, body)
  }
}
