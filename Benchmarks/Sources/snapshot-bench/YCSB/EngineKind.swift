import Foundation
import Snapshot
import SnapshotKV
import SystemPackage

/// The engines of the comparison.
enum EngineKind: String, CaseIterable, Codable, Sendable {
  /// SnapshotKV's B+tree in a region, line tracking.
  case snapshot
  /// The same in a region with page tracking, written through raw pointers.
  case snapshotPages = "snapshot-pages"
  /// The same B+tree in a file mapped shared, POSIX msync per commit: not crash-consistent.
  case msync
  /// The same B+tree on PMDK's libpmemobj: its transactions, allocator and undo log.
  case pmdk
  /// LMDB, one transaction per commit.
  case lmdb
  /// Kyoto Cabinet TreeDB, hard transactions.
  case kyoto
  /// The same B+tree in ordinary memory, nothing durable: the limit for reads.
  case memory
  /// The same B+tree in ordinary memory, each commit's changed lines streamed to a log on the medium
  /// and one fence (`RedoFloor` without a home copy): the least the commit of a redo log of whole lines
  /// costs an update, with no tracking, checksum, home writes or recovery (not crash-consistent).
  /// Persistent memory only.
  case floor
  /// SQLite on its own file, its default rollback journal (DELETE, synchronous=FULL).
  case sqliteRollback = "sqlite-delete"
  /// SQLite with write-ahead logging, synchronous=FULL.
  case sqliteWAL = "sqlite-wal"
  /// SQLite with write-ahead logging, synchronous=NORMAL: atomic, but a commit is not durable when it
  /// returns (the log is synced at checkpoints only).
  case sqliteWALNormal = "sqlite-wal-normal"
  /// SQLite on the snapshot VFS: each commit one failure-atomic msync.
  case sqliteSnapshot = "sqlite-snapshot"
}

/// Where the engines keep their data.
enum MediumKind: String, CaseIterable, Codable, Sendable {
  /// Persistent memory's stand-in, /dev/shm: cache-line flushes (PMDK with PMEM_IS_PMEM_FORCE=1).
  case pm
  /// An ordinary file system: durable through fdatasync or msync.
  case file
  /// A memory-semantic CXL device (an SSD behind a small DRAM cache), emulated: persistent memory's
  /// stand-in, with every access an engine makes to it charged by a `DeviceLatencyModel`.
  case cxl

  /// Whether engines reach the medium through loads, stores and cache-line flushes of a mapping.
  var isByteAddressable: Bool { self != .file }
}

/// Work to do with an open engine, generic so that it is specialized for each engine's concrete type.
protocol EngineVisitor {
  associatedtype Result
  func visit<Engine: KeyValueEngine>(_ engine: Engine) throws -> Result
}

/// Creates `kind` on `medium` (with `index`, for the engines built on the containers) in `directory` with room for
/// `bytes` of data, its accesses to the medium charged by `device` (the CXL emulation), runs `visitor` on it, and
/// closes it. Snapshot's regions reserve address space for the largest region unless `exactReservation`.
func withEngine<Visitor: EngineVisitor>(
  _ kind: EngineKind, medium: MediumKind, index: IndexKind, directory: String, bytes: Int, device: DeviceLatencyModel?,
  exactReservation: Bool = false, _ visitor: Visitor
) throws -> Visitor.Result {
  let path = "\(directory)/ycsb-\(kind.rawValue)"
  func run<Engine: KeyValueEngine>(_ engine: Engine) throws -> Visitor.Result {
    defer { engine.close() }
    return try visitor.visit(engine)
  }
  func createRegion(tracking: Region.Tracking) throws -> Region {
    let options = Region.CreateOptions(
      backing: medium.isByteAddressable ? .persistentMemory : .file, tracking: tracking, maximumSize: exactReservation ? bytes : nil)
    guard let device else { return try Region.create(at: FilePath(path), size: bytes, options: options) }
    return try Region.create(at: FilePath(path), size: bytes, options: options, emulating: device)
  }
  switch kind {
  case .snapshot:
    let region = try createRegion(tracking: .lines)
    let backend = RegionBackend(region: region)
    backend.heap.format()
    return try run(ContainerEngine(backend: backend, index: index, bytesWritten: { region.bytesWritten }, settle: { try region.checkpoint() }) { try? region.close() })
  case .snapshotPages:
    let region = try createRegion(tracking: .pages)
    let backend = HeapBackend(memory: PageTrackedMemory(region: region), heapOffset: 64) { () throws(SnapshotError) in try region.msync() }
    backend.heap.format()
    return try run(ContainerEngine(backend: backend, index: index, bytesWritten: { region.bytesWritten }, settle: { try region.checkpoint() }) { try? region.close() })
  case .msync:
    let file = try MsyncFile(path: path, size: bytes, flushesPages: medium.isByteAddressable)
    func runMsync<Memory: ContainerMemory>(on memory: Memory) throws -> Visitor.Result {
      let backend = HeapBackend(memory: memory, heapOffset: 64) { () throws(SnapshotError) in
        do { try file.sync() } catch { throw .commitFailed(path: path, operation: "msync", errno: .ioError) }
        return 0
      }
      backend.heap.format()
      return try run(ContainerEngine(backend: backend, index: index, bytesWritten: { file.bytesWritten }) { file.close() })
    }
    guard let device else { return try runMsync(on: MsyncMemory(file: file)) }
    return try runMsync(on: DeviceMemory(base: MsyncMemory(file: file), device: device))
  case .pmdk:
    func runPMDK<Memory: ContainerMemory>(_ backend: PMDKBackend<Memory>) throws -> Visitor.Result {
      try run(ContainerEngine(backend: backend, index: index) { backend.close() })
    }
    guard let device else { return try runPMDK(PMDKBackend(path: path, size: bytes)) }
    return try runPMDK(PMDKBackend(path: path, size: bytes) { DeviceMemory(base: $0, device: device) })
  case .lmdb:
    return try run(LMDBEngine(directory: path, mapSize: 2 * bytes))
  case .kyoto:
    return try run(KyotoEngine(path: path, mapSize: bytes))
  case .sqliteRollback:
    return try run(SQLiteEngine(path: path, mode: .rollbackJournal, medium: medium))
  case .sqliteWAL:
    return try run(SQLiteEngine(path: path, mode: .writeAheadLog, medium: medium))
  case .sqliteWALNormal:
    return try run(SQLiteEngine(path: path, mode: .writeAheadLogNormal, medium: medium))
  case .sqliteSnapshot:
    return try run(SQLiteEngine(path: path, mode: .snapshot, medium: medium))
  case .memory:
    let mapping = AnonymousMapping(size: bytes)
    let backend = HeapBackend(memory: PlainMemory(base: mapping.base, size: bytes), heapOffset: 64) { () throws(SnapshotError) in 0 }
    backend.heap.format()
    return try run(ContainerEngine(backend: backend, index: index) { mapping.release() })
  case .floor:
    guard medium == .pm else { throw BaselineError(description: "the floor engine runs on persistent memory (--medium pm) only") }
    let mapping = AnonymousMapping(size: bytes)
    let floor = try RedoFloor(working: mapping.base, size: bytes, homePath: nil, logPath: path)
    let memory = FloorMemory(plain: PlainMemory(base: mapping.base, size: bytes), floor: floor)
    let backend = HeapBackend(memory: memory, heapOffset: 64) { () throws(SnapshotError) in
      floor.msync()
      return 0
    }
    backend.heap.format()
    return try run(
      ContainerEngine(backend: backend, index: index, bytesWritten: { floor.bytesWritten }) {
        mapping.release()
      })
  }
}
