#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// One `mmap`ed range: anonymous memory (the working copy and the tracking structures) or reserved
/// address space, into which parts of a file are mapped shared (the durable copy on byte-addressable
/// media, `MappedFile`). Unmapped explicitly.
struct MemoryMapping {
  let base: UnsafeMutableRawPointer
  let length: Int

  /// Maps fresh zero-filled memory for a tracking structure sized for the largest a region may grow
  /// to: pages are allocated only where touched, so the memory is not reserved up front
  /// (`MAP_NORESERVE`), and never as huge pages, since a first touch would then allocate and zero
  /// 2 MiB: a large maximum costs address space only.
  static func anonymous(length: Int) throws(Errno) -> MemoryMapping {
    let mapping = try map(length: length, protection: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, file: -1)
    _ = madvise(mapping.base, length, MADV_NOHUGEPAGE)
    return mapping
  }

  /// Reserves `length` bytes of address space without memory behind them (`PROT_NONE`): a range
  /// another mapping can later be placed into with `MAP_FIXED`. The base is aligned to `alignment`
  /// (a power of two), so that memory committed at its start can be backed by huge pages.
  static func reserve(length: Int, alignment: Int = 4096) throws(Errno) -> MemoryMapping {
    let padded = try map(length: length + alignment, protection: PROT_NONE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, file: -1)
    let aligned = UnsafeMutableRawPointer(bitPattern: roundUp(Int(bitPattern: padded.base), to: alignment))!
    let head = aligned - padded.base
    if head > 0 { munmap(padded.base, head) }
    if alignment - head > 0 { munmap(aligned + length, alignment - head) }
    return MemoryMapping(base: aligned, length: length)
  }

  /// Puts fresh zero-filled, writable memory at `bytes` of this reservation (in place of what was
  /// there, which is dropped), whose first `bytes.upperBound` bytes are then in use. Once those are
  /// large enough, all of them ask for transparent huge pages, so that memory committed in steps (a
  /// region that grows) is backed as memory committed at once is: random stores into a gigabyte-sized
  /// working copy otherwise spend much of their time in TLB misses.
  func commit(_ bytes: Range<Int>) throws(Errno) {
    let mapped = mmap(base + bytes.lowerBound, bytes.count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
    guard let mapped, mapped != MAP_FAILED else { throw Errno(rawValue: errno) }
    if bytes.upperBound >= 4 << 20 {
      _ = madvise(base, bytes.upperBound, MADV_HUGEPAGE)
    }
  }

  /// Maps `[offset, offset + length)` of `file` shared at `address`, replacing what was mapped there
  /// (a part of a reservation), writable or read-only. A writable mapping is populated up front:
  /// otherwise the first store to every page of the log takes a page fault (about a microsecond)
  /// inside msync. A forked child does not inherit it: it would hold the file, and its lock, open.
  static func shared(
    _ file: FileDescriptor, offset: Int, length: Int, writable: Bool, at address: UnsafeMutableRawPointer
  ) throws(Errno) {
    let mapped = mmap(
      address, length, writable ? PROT_READ | PROT_WRITE : PROT_READ,
      MAP_SHARED | MAP_FIXED | (writable ? MAP_POPULATE : 0), file.rawValue, off_t(offset))
    guard let mapped, mapped != MAP_FAILED else { throw Errno(rawValue: errno) }
    _ = madvise(address, length, MADV_DONTFORK)
  }

  /// Returns `[address, address + length)` to reserved address space, dropping what was mapped there.
  static func unreserve(at address: UnsafeMutableRawPointer, length: Int) throws(Errno) {
    let mapped = mmap(address, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0)
    guard let mapped, mapped != MAP_FAILED else { throw Errno(rawValue: errno) }
  }

  private static func map(length: Int, protection: Int32, flags: Int32, file: Int32) throws(Errno) -> MemoryMapping {
    let address = mmap(nil, max(length, 1), protection, flags, file, 0)
    guard let address, address != MAP_FAILED else { throw Errno(rawValue: errno) }
    return MemoryMapping(base: address, length: length)
  }

  func unmap() {
    munmap(base, max(length, 1))
  }
}
