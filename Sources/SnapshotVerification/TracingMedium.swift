import SystemPackage
import Snapshot

/// One durable-write operation of a run, or a note from the workload.
package enum TraceEvent: Equatable, Sendable {
  /// Bytes written with ordinary stores; durable only after a flush of their line and a fence.
  case store(offset: Int, bytes: [UInt8])
  /// Bytes written with non-temporal stores; durable after the next fence.
  case stream(offset: Int, bytes: [UInt8])
  case flush(offset: Int, count: Int)
  case fence
  /// A `pwrite` to one of a file region's files; durable after the next sync of that file.
  case fileWrite(file: RegionFileRole, offset: Int, bytes: [UInt8])
  /// An `fdatasync` of one of a file region's files.
  case fileSync(file: RegionFileRole)
  /// The directory holding a new region's files was synced: their names are durable.
  case directorySync
  /// Creating the region returned: from here on its files must exist after a crash.
  case created
  /// The workload calls msync; if the process or machine dies before it returns, the region may hold
  /// committed state `state` (the working copy at the call) or the previous one.
  case msyncBegins(state: Int)
  /// msync returned: committed state `state` is acknowledged.
  case msyncReturned(state: Int)
  /// The process died; the machine did not, so every store it made reached the medium.
  case processCrash
  /// Reopening after a process crash recovered committed state `state`.
  case recovered(state: Int)
}

/// The events of a run, shared by every medium of the run (one per open of the region).
package final class Trace {
  package private(set) var events: [TraceEvent] = []

  package init() {}

  package func append(_ event: TraceEvent) {
    events.append(event)
  }
}

/// A medium that performs every operation on persistent memory and records it in a trace, and that
/// switches on the faults a mutant asks for.
package struct TracingMedium: ByteAddressableMedium {
  package let memory: PersistentMemory
  package let trace: Trace
  package let faults: Fault

  package init(base: UnsafeMutableRawPointer, trace: Trace, faults: Fault = []) {
    memory = PersistentMemory(base: base)
    self.trace = trace
    self.faults = faults
  }

  package var base: UnsafeMutableRawPointer { memory.base }

  package func store(from source: UnsafeRawPointer, count: Int, at offset: Int) {
    trace.append(.store(offset: offset, bytes: Array(UnsafeRawBufferPointer(start: source, count: count))))
    memory.store(from: source, count: count, at: offset)
  }

  package func storeWord(_ value: UInt64, at offset: Int) {
    trace.append(.store(offset: offset, bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) }))
    memory.storeWord(value, at: offset)
  }

  package func streamLines(from source: UnsafeRawPointer, lineCount: Int, at offset: Int) {
    trace.append(.stream(offset: offset, bytes: Array(UnsafeRawBufferPointer(start: source, count: lineCount * 64))))
    memory.streamLines(from: source, lineCount: lineCount, at: offset)
  }

  package func flush(at offset: Int, count: Int) {
    trace.append(.flush(offset: offset, count: count))
    memory.flush(at: offset, count: count)
  }

  package func fence() {
    trace.append(.fence)
    memory.fence()
  }

  /// Opens a region whose durable writes are recorded in `trace`.
  package static func open(
    at path: FilePath, trace: Trace, faults: Fault = [], tracking: Region.Tracking = .lines, threads: Region.Threads = .one
  ) throws(SnapshotError) -> Region {
    try Region.open(at: path, tracking: tracking, threads: threads, memory: { TracingMedium(base: $0, trace: trace, faults: faults) })
  }
}
