import Snapshot
import SystemPackage

/// A file medium that performs every operation on the real files and records each write and sync in a
/// trace, and that switches on the faults a mutant asks for.
package struct TracingFileMedium: FileMedium {
  package let storage: FileStorage
  package let trace: Trace
  package let faults: Fault

  package init(storage: FileStorage, trace: Trace, faults: Fault = []) {
    self.storage = storage
    self.trace = trace
    self.faults = faults
  }

  package func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, to file: RegionFileRole) throws(Errno) {
    trace.append(.fileWrite(file: file, offset: offset, bytes: Array(bytes)))
    try storage.write(bytes, at: offset, to: file)
  }

  package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, from file: RegionFileRole) throws(Errno) {
    try storage.read(into: buffer, at: offset, from: file)
  }

  package func synchronize(_ file: RegionFileRole) throws(Errno) {
    trace.append(.fileSync(file: file))
    try storage.synchronize(file)
  }

  package func size(of file: RegionFileRole) throws(Errno) -> Int {
    try storage.size(of: file)
  }

  /// Creates a file region whose writes, syncs and directory sync are recorded in `trace`.
  package static func create(
    at path: FilePath, size: Int, trace: Trace, faults: Fault = [], tracking: Region.Tracking = .lines,
    threads: Region.Threads = .one
  ) throws(SnapshotError) -> Region {
    try Region.create(
      at: path, size: size, tracking: tracking, threads: threads, faults: faults, directorySynced: { trace.append(.directorySync) }
    ) {
      TracingFileMedium(storage: FileStorage(data: $0, log: $1), trace: trace, faults: faults)
    }
  }

  /// Opens a file region whose writes and syncs are recorded in `trace`.
  package static func open(
    at path: FilePath, trace: Trace, faults: Fault = [], tracking: Region.Tracking = .lines, threads: Region.Threads = .one
  ) throws(SnapshotError) -> Region {
    try Region.open(at: path, tracking: tracking, threads: threads, files: {
      TracingFileMedium(storage: FileStorage(data: $0, log: $1), trace: trace, faults: faults)
    })
  }
}
