import SystemPackage

/// The two files of a region on an ordinary file system.
package enum RegionFileRole: Sendable, Hashable, CustomStringConvertible {
  /// The header page and the home copy of the data.
  case data
  /// The redo log: a header sector and the batches committed since the last checkpoint.
  case log

  package var description: String { self == .data ? "data file" : "log file" }
}

/// The persistence seam for block storage: every write, read and sync of the file journal goes
/// through it, so that a tracing medium can record a run and a crash simulator can replay it, and so
/// that tests can make a write or a sync fail.
///
/// The crash model behind it: a write is durable once a later `synchronize` of its file returns. Until
/// then it may be lost, or persist in part at 512-byte sector granularity; a write beyond the file's
/// durable end may also persist as zeros or garbage.
package protocol FileMedium {
  func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, to file: RegionFileRole) throws(Errno)
  /// Reads exactly `buffer.count` bytes.
  func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, from file: RegionFileRole) throws(Errno)
  /// Makes the file's earlier writes durable (`fdatasync`).
  func synchronize(_ file: RegionFileRole) throws(Errno)
  func size(of file: RegionFileRole) throws(Errno) -> Int
  /// Makes the file `length` bytes long: a longer file is allocated first (`posix_fallocate`, so that
  /// writes into it cannot run out of space), a shorter one cut (`ftruncate`). Like a write, durable
  /// after the next `synchronize` of the file.
  func resize(_ file: RegionFileRole, to length: Int) throws(Errno)
  /// The deliberate bugs switched on, for the crash simulator's mutants; none in production.
  var faults: Fault { get }
}

extension FileMedium {
  package var faults: Fault { [] }
}

/// An ordinary file system: `pwrite`, `pread` and `fdatasync` on the region's two files.
package struct FileStorage: FileMedium {
  package let data: FileDescriptor
  package let log: FileDescriptor

  package init(data: FileDescriptor, log: FileDescriptor) {
    self.data = data
    self.log = log
  }

  private func descriptor(_ file: RegionFileRole) -> FileDescriptor {
    file == .data ? data : log
  }

  package func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, to file: RegionFileRole) throws(Errno) {
    do {
      _ = try descriptor(file).writeAll(toAbsoluteOffset: Int64(offset), bytes)
    } catch {
      throw Errno(error)
    }
  }

  package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, from file: RegionFileRole) throws(Errno) {
    var done = 0
    while done < buffer.count {
      let read: Int
      do {
        read = try descriptor(file).read(fromAbsoluteOffset: Int64(offset + done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
      } catch {
        throw Errno(error)
      }
      guard read > 0 else { throw Errno.ioError }
      done += read
    }
  }

  package func synchronize(_ file: RegionFileRole) throws(Errno) {
    try descriptor(file).synchronizeData()
  }

  package func size(of file: RegionFileRole) throws(Errno) -> Int {
    Int(try descriptor(file).size())
  }

  package func resize(_ file: RegionFileRole, to length: Int) throws(Errno) {
    let current = try size(of: file)
    if length > current {
      try descriptor(file).allocate(offset: Int64(current), length: Int64(length - current))
    } else if length < current {
      do { try descriptor(file).resize(to: Int64(length)) } catch { throw Errno(error) }
    }
  }
}
