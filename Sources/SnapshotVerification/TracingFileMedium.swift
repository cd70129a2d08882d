import Foundation
import Snapshot
import SystemPackage

/// A file medium that performs every operation on the real files and records each write and sync in a
/// trace, that switches on the faults a mutant asks for, and that fails the system call a workload
/// arms in `failures`.
package struct TracingFileMedium: FileMedium {
  package let storage: FileStorage
  package let trace: Trace
  package let faults: Fault
  package let failures: FileCallFailure?

  package init(storage: FileStorage, trace: Trace, faults: Fault = [], failures: FileCallFailure? = nil) {
    self.storage = storage
    self.trace = trace
    self.faults = faults
    self.failures = failures
  }

  package func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, to file: RegionFileRole) throws(Errno) {
    try failures?.check(.write(file))
    trace.append(.fileWrite(file: file, offset: offset, bytes: Array(bytes)))
    try storage.write(bytes, at: offset, to: file)
  }

  package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, from file: RegionFileRole) throws(Errno) {
    try failures?.check(.read(file))
    try storage.read(into: buffer, at: offset, from: file)
  }

  package func synchronize(_ file: RegionFileRole) throws(Errno) {
    try failures?.check(.synchronize(file))
    trace.append(.fileSync(file: file))
    try storage.synchronize(file)
  }

  package func size(of file: RegionFileRole) throws(Errno) -> Int {
    try failures?.check(.size(file))
    return try storage.size(of: file)
  }

  package func resize(_ file: RegionFileRole, to length: Int) throws(Errno) {
    try failures?.check(.resize(file))
    try storage.resize(file, to: length)
    trace.append(.fileResize(file: file, length: length))
  }

  /// Creates a file region whose writes, syncs and directory sync are recorded in `trace`.
  package static func create(
    at path: FilePath, size: Int, logSize: Int? = nil, trace: Trace, faults: Fault = [], failures: FileCallFailure? = nil,
    tracking: Region.Tracking = .lines, threads: Region.Threads = .one, maximumSize: Int? = nil
  ) throws(SnapshotError) -> Region {
    try Region.create(
      at: path, size: size, logSize: logSize, tracking: tracking, threads: threads, maximumSize: maximumSize, faults: faults,
      directorySynced: { trace.append(.directorySync) }
    ) {
      TracingFileMedium(storage: FileStorage(data: $0, log: $1), trace: trace, faults: faults, failures: failures)
    }
  }

  /// Opens a file region whose writes and syncs are recorded in `trace`.
  package static func open(
    at path: FilePath, trace: Trace, faults: Fault = [], failures: FileCallFailure? = nil, tracking: Region.Tracking = .lines,
    threads: Region.Threads = .one, maximumSize: Int? = nil
  ) throws(SnapshotError) -> Region {
    try Region.open(at: path, tracking: tracking, threads: threads, maximumSize: maximumSize, files: {
      TracingFileMedium(storage: FileStorage(data: $0, log: $1), trace: trace, faults: faults, failures: failures)
    })
  }
}

/// One system call of a file region made to fail, for the workload that checks what a failed write,
/// sync or read leaves behind. The call that fails does nothing (it is not in the trace): whatever
/// earlier writes it was to make durable stay uncertain in the crash model.
package final class FileCallFailure: @unchecked Sendable {
  package enum Call: Hashable, Sendable, CustomStringConvertible {
    case write(RegionFileRole), read(RegionFileRole), synchronize(RegionFileRole), size(RegionFileRole), resize(RegionFileRole)

    package var description: String {
      switch self {
      case .write(let file): return "a write to the \(file)"
      case .read(let file): return "a read of the \(file)"
      case .synchronize(let file): return "an fdatasync of the \(file)"
      case .size(let file): return "the size of the \(file)"
      case .resize(let file): return "a change of the \(file)'s length"
      }
    }
  }

  private let lock = NSLock()
  private var armed: (call: Call, errno: Errno, skipped: Int)?
  private var fired = false

  package init() {}

  /// Makes `call` fail with `errno` once `skipped` calls of it have succeeded.
  package func arm(_ call: Call, with errno: Errno, after skipped: Int = 0) {
    lock.withLock {
      armed = (call, errno, skipped)
      fired = false
    }
  }

  /// Stops failing; returns whether the armed call failed.
  package func disarm() -> Bool {
    lock.withLock {
      armed = nil
      return fired
    }
  }

  func check(_ call: Call) throws(Errno) {
    let errno: Errno? = lock.withLock {
      guard let armed, armed.call == call else { return nil }
      guard armed.skipped == 0 else {
        self.armed!.skipped -= 1
        return nil
      }
      self.armed = nil
      fired = true
      return armed.errno
    }
    if let errno { throw errno }
  }
}
