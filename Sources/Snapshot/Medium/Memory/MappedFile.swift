import SystemPackage

/// The data file of a region on a memory medium, mapped shared into address space reserved for the
/// largest the file can become. The log at the file's end grows for a commit that does not fit and
/// shrinks back at the next checkpoint; the mapping's base never moves, so nothing that points into it
/// dangles.
package final class MappedFile {
  package let base: UnsafeMutableRawPointer
  /// The file's length, all of it mapped. Read on every commit: kept in a private property, whose
  /// accesses the compiler sees all of, so that reading it needs no run-time exclusivity check.
  package var length: Int { mappedLength }
  private var mappedLength: Int
  private let descriptor: FileDescriptor
  private let reservation: MemoryMapping
  private let writable: Bool

  /// Maps the `length` bytes of `descriptor` (whole pages, checked by the caller against the file's
  /// size) into a reservation of `largest` bytes.
  init(_ descriptor: FileDescriptor, length: Int, largest: Int, writable: Bool) throws(Errno) {
    precondition(length % RegionHeader.pageSize == 0 && length <= largest)
    reservation = try MemoryMapping.reserve(length: largest)
    do {
      try MemoryMapping.shared(descriptor, offset: 0, length: length, writable: writable, at: reservation.base)
    } catch {
      reservation.unmap()
      throw error
    }
    self.descriptor = descriptor
    self.base = reservation.base
    self.mappedLength = length
    self.writable = writable
  }

  /// Makes the file `newLength` bytes long (whole pages, within the reservation). Growing allocates
  /// the new bytes first (zeros, which a store can never fail to reach: no SIGBUS on a full file
  /// system) and maps them, or, failing that, leaves the file as it was; the new length is durable only
  /// after `synchronizeLength()`. Shrinking
  /// unmaps the end, then cuts the file.
  func resize(to newLength: Int) throws(Errno) {
    precondition(newLength % RegionHeader.pageSize == 0 && newLength <= reservation.length)
    let length = mappedLength
    if newLength > length {
      do {
        try descriptor.allocate(offset: Int64(length), length: Int64(newLength - length))
        try MemoryMapping.shared(descriptor, offset: length, length: newLength - length, writable: writable, at: base + length)
      } catch {
        // Whatever was allocated or mapped goes: a failed grow leaves the file as it was.
        try? MemoryMapping.unreserve(at: base + length, length: newLength - length)
        try? descriptor.resize(to: Int64(length))
        throw error
      }
    } else if newLength < length {
      try MemoryMapping.unreserve(at: base + newLength, length: length - newLength)
      do { try descriptor.resize(to: Int64(newLength)) } catch { throw Errno(error) }
    }
    mappedLength = newLength
  }

  /// Makes the file's length durable (`fsync`: its metadata with its data).
  func synchronizeLength() throws(Errno) {
    try descriptor.synchronize()
  }

  /// Unmaps the file and gives back the reservation.
  func unmap() {
    reservation.unmap()
  }
}
