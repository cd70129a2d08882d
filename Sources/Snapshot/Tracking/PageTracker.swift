#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSnapshotPlatform
import SystemPackage

/// Page-granular tracking of a working copy, for code that writes it without tracked stores (C
/// libraries, raw pointers): the copy is read-only, the first write to each page faults into the C
/// handler, which records the page and makes it writable. msync re-arms the pages it committed.
///
/// A process may hold only so many mappings (`vm.max_map_count`, 65,530 by default), and every page
/// made writable on its own can split one mapping into three. So after `isolatedBudget` such pages, a
/// fault makes its whole chunk of `chunkPages` pages writable and records all of them: more is
/// committed (still correctly: an unchanged page commits its own contents), and the mapping count stays
/// bounded however many pages are written.
final class PageTracker {
  static let pageSize = 4096

  let base: UnsafeMutableRawPointer
  /// The pages tracked: those of the working copy's current size.
  private(set) var pageCount: Int
  private let tracker: UnsafeMutablePointer<snapshot_page_tracker>
  private let stateMapping: MemoryMapping
  private let listMapping: MemoryMapping

  /// Tracks the `length` bytes at `base`, with room to track up to `capacity` bytes (by default
  /// `length`) as the working copy grows.
  init(base: UnsafeMutableRawPointer, length: Int, capacity: Int? = nil, isolatedBudget: Int = 16_384, chunkPages: Int = 512) throws(Errno) {
    let capacity = capacity ?? length
    precondition(length % Self.pageSize == 0 && capacity >= length && chunkPages.nonzeroBitCount == 1)
    self.base = base
    pageCount = length / Self.pageSize
    let installed = snapshot_page_tracking_install()
    guard installed == 0 else { throw Errno(rawValue: installed) }
    stateMapping = try .anonymous(length: capacity / Self.pageSize)
    do {
      listMapping = try .anonymous(length: capacity / Self.pageSize * 4)
    } catch {
      stateMapping.unmap()
      throw error
    }
    tracker = .allocate(capacity: 1)
    tracker.initialize(to: snapshot_page_tracker(
      base: UInt(bitPattern: base), length: length,
      page_state: stateMapping.base.assumingMemoryBound(to: UInt8.self),
      dirty_pages: listMapping.base.assumingMemoryBound(to: UInt32.self), dirty_count: 0,
      isolated_budget: isolatedBudget, isolated_count: 0, chunk_pages: chunkPages))
    do throws(Errno) {
      guard mprotect(base, length, PROT_READ) == 0 else { throw Errno(rawValue: errno) }
      let registered = snapshot_page_tracker_register(tracker)
      guard registered == 0 else {
        mprotect(base, length, PROT_READ | PROT_WRITE)
        throw Errno(rawValue: registered)
      }
    } catch {
      release()
      throw error
    }
  }

  deinit {
    snapshot_page_tracker_unregister(tracker)
    mprotect(base, pageCount * Self.pageSize, PROT_READ | PROT_WRITE)
    release()
  }

  private func release() {
    tracker.deallocate()
    stateMapping.unmap()
    listMapping.unmap()
  }

  /// Tracks the first `length` bytes from now on: new pages are made read-only, so that their first
  /// write is recorded; pages past a shorter length must have been re-armed (none dirty), and are
  /// no longer watched.
  func resize(to length: Int) throws(Errno) {
    let old = pageCount * Self.pageSize
    precondition(length % Self.pageSize == 0 && (length >= old || tracker.pointee.dirty_count == 0))
    if length > old {
      guard mprotect(base + old, length - old, PROT_READ) == 0 else { throw Errno(rawValue: errno) }
    }
    tracker.pointee.length = length
    pageCount = length / Self.pageSize
  }

  /// The pages written since the last re-arm, in the order they were first written.
  var dirtyPages: UnsafeBufferPointer<UInt32> {
    UnsafeBufferPointer(start: tracker.pointee.dirty_pages, count: tracker.pointee.dirty_count)
  }

  /// Makes every dirty page read-only again, a run of neighbouring dirty pages per `mprotect`, and
  /// forgets them. Costs time in proportion to the dirty pages, not to the region.
  func rearm() throws(Errno) {
    let state = tracker.pointee.page_state!
    for page in dirtyPages.map(Int.init) where state[page] != 0 {
      var first = page
      while first > 0, state[first - 1] != 0 { first -= 1 }
      var end = page + 1
      while end < pageCount, state[end] != 0 { end += 1 }
      guard mprotect(base + first * Self.pageSize, (end - first) * Self.pageSize, PROT_READ) == 0 else {
        throw Errno(rawValue: errno)
      }
      (state + first).initialize(repeating: 0, count: end - first)
    }
    tracker.pointee.dirty_count = 0
    tracker.pointee.isolated_count = 0
  }
}
