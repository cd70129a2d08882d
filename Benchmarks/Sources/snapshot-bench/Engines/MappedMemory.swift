import CSnapshotPlatform
import Foundation
import Snapshot
import SnapshotKV

/// A region's working copy written through raw pointers, as code that knows nothing of tracking
/// writes it: page tracking finds the changes, a write-protect fault per page and epoch.
struct PageTrackedMemory: ContainerMemory {
  let plain: PlainMemory

  /// The working copy of `region`, which must track pages. The pointer stays valid while the region is
  /// open: the working copy is never moved.
  init(region: Region) {
    plain = region.withUnsafeMutableBytes { PlainMemory(base: $0.baseAddress!, size: $0.count) }
  }

  var size: Int { plain.size }
  @inline(__always) func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T { plain.load(T.self, at: offset) }
  @inline(__always) func store<T: BitwiseCopyable>(_ value: T, at offset: Int) { plain.store(value, at: offset) }
  @inline(__always) func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) { plain.copy(from: bytes, to: offset) }
  @inline(__always) func fill(_ byte: UInt8, at offset: Int, count: Int) { plain.fill(byte, at: offset, count: count) }
  @inline(__always) func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    plain.withBytes(at: offset, count: count, body)
  }
}

/// A file mapped shared, made durable by POSIX msync: the kernel writes every dirty page back whole.
/// Nothing is atomic: a crash may leave any mix of pages, even inside one commit.
///
/// On a file system with a page cache, `msync(MS_SYNC)` finds the dirty pages itself. On tmpfs it does
/// nothing, so there the memory does what msync does on a DAX mount: it remembers the pages stored to
/// and, at each commit, writes back every line of each, fences, and makes the system call.
final class MsyncFile {
  let mapping: UnsafeMutableRawPointer
  let size: Int
  let flushesPages: Bool
  private var dirtyPages: [Int] = []
  private var isDirty: [Bool]
  private let descriptor: Int32
  /// Bytes the commits wrote back: every dirty page, whole.
  private(set) var bytesWritten = 0

  init(path: String, size: Int, flushesPages: Bool) throws {
    descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0, posix_fallocate(descriptor, 0, off_t(size)) == 0 else {
      throw BaselineError(description: "cannot create \(path) of \(size) bytes")
    }
    guard let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), address != MAP_FAILED else {
      throw BaselineError(description: "cannot map \(path)")
    }
    mapping = address
    self.size = size
    self.flushesPages = flushesPages
    isDirty = [Bool](repeating: false, count: size / 4096 + 1)
  }

  @inline(__always)
  func willWrite(at offset: Int, count: Int) {
    var page = offset >> 12
    while page <= (offset + count - 1) >> 12 {
      if !isDirty[page] {
        isDirty[page] = true
        dirtyPages.append(page)
      }
      page += 1
    }
  }

  func sync() throws {
    if flushesPages {
      for page in dirtyPages {
        writeBack(mapping + (page << 12), count: 4096)
      }
      snapshot_sfence()
    }
    guard msync(mapping, size, MS_SYNC) == 0 else { throw BaselineError(description: "msync failed: \(errno)") }
    bytesWritten += dirtyPages.count * 4096
    for page in dirtyPages { isDirty[page] = false }
    dirtyPages.removeAll(keepingCapacity: true)
  }

  func close() {
    munmap(mapping, size)
    Foundation.close(descriptor)
  }
}

/// The memory of an `MsyncFile`: plain stores into the shared mapping, pages remembered for msync.
struct MsyncMemory: ContainerMemory {
  let file: MsyncFile
  let plain: PlainMemory

  init(file: MsyncFile) {
    self.file = file
    plain = PlainMemory(base: file.mapping, size: file.size)
  }

  var size: Int { plain.size }
  @inline(__always) func load<T: BitwiseCopyable>(_ type: T.Type, at offset: Int) -> T { plain.load(T.self, at: offset) }
  @inline(__always) func withBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    plain.withBytes(at: offset, count: count, body)
  }

  @inline(__always) func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
    file.willWrite(at: offset, count: MemoryLayout<T>.size)
    plain.store(value, at: offset)
  }

  @inline(__always) func copy(from bytes: UnsafeRawBufferPointer, to offset: Int) {
    file.willWrite(at: offset, count: bytes.count)
    plain.copy(from: bytes, to: offset)
  }

  @inline(__always) func fill(_ byte: UInt8, at offset: Int, count: Int) {
    file.willWrite(at: offset, count: count)
    plain.fill(byte, at: offset, count: count)
  }
}
