import CSnapshotPlatform
import Snapshot

/// Writes the cache lines holding `count` bytes at `start` back to memory, without a fence, with the
/// instruction Snapshot itself uses on this processor (`clwb` where it exists; some processors have
/// only `clflushopt` or `clflush`, and `clwb` would stop the run with an illegal instruction).
@inline(__always)
func writeBack(_ start: UnsafeRawPointer, count: Int) {
  let first = UInt(bitPattern: start) & ~63
  let end = UInt(bitPattern: start) + UInt(count)
  switch flushInstruction {
  case .clwb:
    for line in stride(from: first, to: end, by: 64) { snapshot_clwb(UnsafeRawPointer(bitPattern: line)!) }
  case .clflushopt:
    for line in stride(from: first, to: end, by: 64) { snapshot_clflushopt(UnsafeRawPointer(bitPattern: line)!) }
  case .clflush:
    for line in stride(from: first, to: end, by: 64) { snapshot_clflush(UnsafeRawPointer(bitPattern: line)!) }
  case .none:
    break
  }
}

private let flushInstruction = CPUFeatures.current.flushInstruction
