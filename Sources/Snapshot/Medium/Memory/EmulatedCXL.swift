import SystemPackage

/// A latency model of a memory-semantic CXL device (an SSD behind a small DRAM cache, reached with loads
/// and stores): an access to a 4 KiB page the cache holds costs nothing extra; an access to any other
/// page waits ``missLatency`` (the flash access), and the page enters the cache in place of the least
/// recently used page of its set (the cache is 8-way set associative).
///
/// One model stands for one device. Benchmarks give each engine its own, and charge every access the
/// engine makes to the device: ``Region/create(at:size:options:emulating:)`` charges a region's durable
/// writes (log appends, home writes), and a baseline charges its loads and stores of the mapped file.
/// A hit is free, where a real device adds its link's latency: the model is kind to engines that read
/// the device, which Snapshot does not.
public final class DeviceLatencyModel {
  /// The unit the device's cache holds.
  public static let pageSize = 4096
  static let ways = 8

  /// Bytes the device's cache holds.
  public let cacheBytes: Int
  /// What an access to a page outside the cache costs.
  public let missLatency: Duration
  /// Page accesses that found their page in the cache.
  public private(set) var hits = 0
  /// Page accesses that waited for the flash.
  public private(set) var misses = 0

  private let sets: Int
  /// Per way: the page it holds plus one (0: empty), and when it was last used.
  private let tags: UnsafeMutableBufferPointer<Int>
  private let lastUse: UnsafeMutableBufferPointer<UInt64>
  private var now: UInt64 = 0

  /// A device whose cache holds `cacheBytes` (at least one set of 8 pages) and whose misses cost `missLatency`.
  public init(cacheBytes: Int, missLatency: Duration) {
    sets = max(1, cacheBytes / Self.pageSize / Self.ways)
    self.cacheBytes = sets * Self.ways * Self.pageSize
    self.missLatency = missLatency
    tags = .allocate(capacity: sets * Self.ways)
    tags.initialize(repeating: 0)
    lastUse = .allocate(capacity: sets * Self.ways)
    lastUse.initialize(repeating: 0)
  }

  deinit {
    tags.deallocate()
    lastUse.deallocate()
  }

  /// Charges an access to the `count` bytes at `offset` of the device: each page of them the cache
  /// does not hold costs ``missLatency``.
  @inline(__always)
  public func access(offset: Int, count: Int) {
    guard count > 0 else { return }
    for page in (offset / Self.pageSize)...((offset + count - 1) / Self.pageSize) {
      touch(page)
    }
  }

  private func touch(_ page: Int) {
    now &+= 1
    let first = (page % sets) * Self.ways
    var victim = first
    for way in first..<first + Self.ways {
      if tags[way] == page + 1 {
        lastUse[way] = now
        hits += 1
        return
      }
      if lastUse[way] < lastUse[victim] { victim = way }
    }
    tags[victim] = page + 1
    lastUse[victim] = now
    misses += 1
    let deadline = ContinuousClock.now.advanced(by: missLatency)
    while ContinuousClock.now < deadline {}
  }
}

/// Persistent memory behind a ``DeviceLatencyModel``: every durable write first pays the model, then
/// goes to the persistent memory (the file on a DAX or tmpfs mount) as usual.
package struct EmulatedCXL: MemoryMedium {
  let memory: PersistentMemory
  let device: DeviceLatencyModel

  package init(memory: PersistentMemory, device: DeviceLatencyModel) {
    self.memory = memory
    self.device = device
  }

  package var base: UnsafeMutableRawPointer { memory.base }
  /// Each page written out of address order may be fetched again: a flash access each time.
  package static var prefersAddressOrder: Bool { true }

  @inline(__always)
  package func store(from source: UnsafeRawPointer, count: Int, at offset: Int) {
    device.access(offset: offset, count: count)
    memory.store(from: source, count: count, at: offset)
  }

  @inline(__always)
  package func storeWord(_ value: UInt64, at offset: Int) {
    device.access(offset: offset, count: 8)
    memory.storeWord(value, at: offset)
  }

  @inline(__always)
  package func streamLines(from source: UnsafeRawPointer, lineCount: Int, at offset: Int) {
    device.access(offset: offset, count: lineCount * 64)
    memory.streamLines(from: source, lineCount: lineCount, at: offset)
  }

  @inline(__always)
  package func flush(at offset: Int, count: Int) { memory.flush(at: offset, count: count) }

  @inline(__always)
  package func fence() { memory.fence() }

  package var length: Int { memory.length }

  /// A length change is the file system's business, not the device's: no latency.
  package func resize(to length: Int) throws(Errno) { try memory.resize(to: length) }

  package func synchronizeLength() throws(Errno) { try memory.synchronizeLength() }
}

extension Region {
  /// Creates a region on emulated CXL memory: a persistent-memory region (`path` on a DAX or tmpfs
  /// mount) whose durable writes (log appends, home writes at checkpoints) each pay `device`'s
  /// latency model first. Loads and stores of the working copy never reach the device. For
  /// benchmarks; a region created this way reopens as an ordinary persistent-memory region.
  public static func create(
    at path: FilePath, size: Int, options: CreateOptions = CreateOptions(), emulating device: DeviceLatencyModel
  ) throws(SnapshotError) -> Region {
    try create(at: path, size: size, options: options) { EmulatedCXL(memory: PersistentMemory(file: $0), device: device) }
  }
}
