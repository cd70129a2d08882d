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
  /// An `fdatasync` of one of a file region's files (on persistent memory, the `fsync` of the data
  /// file that makes its length durable).
  case fileSync(file: RegionFileRole)
  /// One of a region's files was made `length` bytes long; durable after the next sync of that file.
  case fileResize(file: RegionFileRole, length: Int)
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
package final class Trace: Sendable {
  /// Behind a lock: the threads of a shared region append, each while it commits or returns.
  private let recorded = Locked<[TraceEvent]>([])

  package init() {}

  package var events: [TraceEvent] { recorded.withLock { $0 } }

  package func append(_ event: TraceEvent) {
    recorded.withLock { $0.append(event) }
  }
}

/// A medium that records every operation in a trace, then performs it on the medium it wraps
/// (persistent memory, or emulated CXL memory, whose checkpoints write home in address order), and
/// that switches on the faults a mutant asks for.
package struct TracingMedium<Inner: MemoryMedium>: MemoryMedium {
  package let inner: Inner
  package let trace: Trace
  package let faults: Fault
  /// Makes a change of the file's length fail when a workload arms `.resize(.data)`.
  package let failures: FileCallFailure?

  package init(_ inner: Inner, trace: Trace, faults: Fault = [], failures: FileCallFailure? = nil) {
    self.inner = inner
    self.trace = trace
    self.faults = faults
    self.failures = failures
  }

  package var base: UnsafeMutableRawPointer { inner.base }
  package static var prefersAddressOrder: Bool { Inner.prefersAddressOrder }
  package static var runsHandedOffWorkInline: Bool { true }

  package func store(from source: UnsafeRawPointer, count: Int, at offset: Int) {
    trace.append(.store(offset: offset, bytes: Array(UnsafeRawBufferPointer(start: source, count: count))))
    inner.store(from: source, count: count, at: offset)
  }

  package func storeWord(_ value: UInt64, at offset: Int) {
    trace.append(.store(offset: offset, bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) }))
    inner.storeWord(value, at: offset)
  }

  package func streamLines(from source: UnsafeRawPointer, lineCount: Int, at offset: Int) {
    trace.append(.stream(offset: offset, bytes: Array(UnsafeRawBufferPointer(start: source, count: lineCount * 64))))
    inner.streamLines(from: source, lineCount: lineCount, at: offset)
  }

  package func flush(at offset: Int, count: Int) {
    trace.append(.flush(offset: offset, count: count))
    inner.flush(at: offset, count: count)
  }

  package func fence() {
    trace.append(.fence)
    inner.fence()
  }

  package var length: Int { inner.length }

  package func resize(to length: Int) throws(Errno) {
    try failures?.check(.resize(.data))
    try inner.resize(to: length)
    trace.append(.fileResize(file: .data, length: length))
  }

  package func synchronizeLength() throws(Errno) {
    trace.append(.fileSync(file: .data))
    try inner.synchronizeLength()
  }
}

/// Opens persistent-memory regions whose durable writes are recorded in a trace.
package enum TracingPersistentMemory {
  /// Opens the region at `path` with its durable writes recorded in `trace`; with `emulatingCXL`, on
  /// emulated CXL memory (a device model without latency: only the order of its writes matters here).
  /// The trace does not depend on `flushInstruction`; choosing it runs that instruction's code.
  package static func open(
    at path: FilePath, trace: Trace, faults: Fault = [], failures: FileCallFailure? = nil, emulatingCXL: Bool = false,
    tracking: Region.Tracking = .lines, threads: Region.Threads = .one, maximumSize: Int? = nil,
    flushInstruction: CacheLineFlushInstruction = CPUFeatures.current.flushInstruction
  ) throws(SnapshotError) -> Region {
    if emulatingCXL {
      let device = DeviceLatencyModel(cacheBytes: 1 << 20, missLatency: .zero)
      return try Region.open(at: path, tracking: tracking, threads: threads, maximumSize: maximumSize, memory: {
        TracingMedium(
          EmulatedCXL(memory: PersistentMemory(file: $0, flushInstruction: flushInstruction), device: device), trace: trace, faults: faults,
          failures: failures)
      })
    }
    return try Region.open(at: path, tracking: tracking, threads: threads, maximumSize: maximumSize, memory: {
      TracingMedium(PersistentMemory(file: $0, flushInstruction: flushInstruction), trace: trace, faults: faults, failures: failures)
    })
  }
}
