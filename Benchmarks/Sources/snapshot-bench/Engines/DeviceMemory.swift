import Snapshot
import SnapshotKV

/// Memory on the emulated CXL device: every load, store and undo snapshot first pays the device's
/// latency model, then goes to `base`. The baselines that keep their data on the device run through
/// it (on the other media they reach `base` directly); Snapshot's regions charge their own durable
/// writes (`Region.create(at:size:options:emulating:)`) and read only the working copy.
struct DeviceMemory<Base: ContainerMemory>: ContainerMemory {
  let base: Base
  let device: DeviceLatencyModel

  var size: Int { base.size }

  @inline(__always)
  private func charge(_ offset: Int, _ count: Int) {
    device.access(offset: offset, count: count)
  }

  @inline(__always)
  func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T {
    charge(offset, MemoryLayout<T>.size)
    return base.load(T.self, at: offset)
  }

  @inline(__always)
  func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
    charge(offset, MemoryLayout<T>.size)
    base.store(value, at: offset)
  }

  @inline(__always)
  func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) {
    charge(offset, bytes.count)
    base.copy(from: bytes, to: offset)
  }

  @inline(__always)
  func fill(_ byte: UInt8, at offset: Int, count: Int) {
    charge(offset, count)
    base.fill(byte, at: offset, count: count)
  }

  @inline(__always)
  func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    charge(offset, count)
    return base.withBytes(at: offset, count: count, body)
  }

  @inline(__always)
  func prepareToChange(at offset: Int, count: Int) {
    charge(offset, count)
    base.prepareToChange(at: offset, count: count)
  }
}
