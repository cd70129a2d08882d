#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSQLite
import Snapshot
import Synchronization
import SystemPackage

/// A database's main file kept in a region, shared by every connection of this process that opens it
/// (the region's file lock keeps other processes out).
///
/// The file's bytes start at ``dataOffset``; its length lives in the region's first line, beside a
/// mark that says the region holds a database. Both change through tracked stores, so a commit makes
/// the length and the bytes durable together, and a crash leaves the file as one commit left it. The
/// bytes past the length are always zeros (a truncation clears them), so a file that grows again reads
/// as zeros where nothing was written.
final class DatabaseFile: @unchecked Sendable {
  /// "SQLSNAP1": the region holds a database (zeros: a fresh region, made into one at first open).
  static let mark: UInt64 = 0x3150_414E_534C_5153
  static let lengthOffset = 8
  static let dataOffset = 4096
  /// A new region's size: a small database costs little; the region grows with the file.
  static let initialSize = 1 << 20

  let path: String
  private let region: Region
  /// Whether the last reference closes the region (false for a region lent by its owner).
  private let ownsRegion: Bool
  private let commitChanges: (Region) throws(SnapshotError) -> Void
  /// The handles and the locks; held, too, by everything that touches the region, so that connections
  /// on different threads take turns.
  private let state = Mutex(State())

  private struct State {
    var handles = 1
    var locks = LockTable()
  }

  private init(path: String, region: Region, ownsRegion: Bool, commit: @escaping (Region) throws(SnapshotError) -> Void) {
    self.path = path
    self.region = region
    self.ownsRegion = ownsRegion
    self.commitChanges = commit
  }

  // MARK: Opening and closing

  private static let open = Mutex<[String: DatabaseFile]>([:])

  /// The database file at `path` (absolute), opened (or created, when `create`) with `options` if no
  /// connection of this process has it open. The caller owns one reference, given back with `release()`.
  static func retain(path: String, create: Bool, options: Region.CreateOptions) throws(SnapshotError) -> DatabaseFile {
    try open.withLock { (files: inout [String: DatabaseFile]) throws(SnapshotError) -> DatabaseFile in
      if let file = files[path] {
        file.state.withLock { $0.handles += 1 }
        return file
      }
      let region: Region
      do throws(SnapshotError) {
        region = try Region.open(at: FilePath(path), maximumSize: options.maximumSize)
      } catch .fileNotFound where create {
        region = try Region.create(at: FilePath(path), size: initialSize, options: options)
      }
      let file = DatabaseFile(path: path, region: region, ownsRegion: true) { region throws(SnapshotError) in try region.msync() }
      do throws(SnapshotError) {
        try file.prepare()
      } catch {
        try? region.close()
        throw error
      }
      files[path] = file
      return file
    }
  }

  /// Lends `region` as the database file at `path`, committed by `commit`; the caller owns one
  /// reference, and the region stays open after the last is given back.
  static func adopt(
    _ region: Region, path: String, commit: @escaping (Region) throws(SnapshotError) -> Void
  ) throws(SnapshotError) -> DatabaseFile {
    try open.withLock { (files: inout [String: DatabaseFile]) throws(SnapshotError) -> DatabaseFile in
      guard files[path] == nil else { throw .locked(path: path) }
      let file = DatabaseFile(path: path, region: region, ownsRegion: false, commit: commit)
      try file.prepare()
      files[path] = file
      return file
    }
  }

  /// Checks that the region holds a database; one nothing was committed to becomes an empty one.
  private func prepare() throws(SnapshotError) {
    switch region.load(UInt64.self, at: 0) {
    case Self.mark:
      return
    case 0 where region.epoch == 0 && region.size >= Self.dataOffset:
      region.store(Self.mark, at: 0)
      try commitChanges(region)
    default:
      throw .invalidOptions(reason: "\(path): the region holds something other than a SQLite database")
    }
  }

  /// Whether a connection of this process has the database at `path` open.
  static func isOpen(path: String) -> Bool { opened(path: path) != nil }

  /// The database at `path`, if a connection of this process has it open.
  static func opened(path: String) -> DatabaseFile? { open.withLock { $0[path] } }

  /// Gives back a reference from `retain` or `adopt`; the last closes a region this file opened (its
  /// commits are durable already).
  func release() {
    Self.open.withLock { files in
      let remaining = state.withLock { state in
        state.handles -= 1
        return state.handles
      }
      guard remaining == 0 else { return }
      files[path] = nil
      if ownsRegion { try? region.close() }
    }
  }

  /// Runs `body` on the region, with no other connection inside it.
  func withRegion<R>(_ body: (Region) throws(SnapshotError) -> R) throws(SnapshotError) -> R {
    try state.withLock { (_: inout State) throws(SnapshotError) -> R in try body(region) }
  }

  // MARK: The file's contents

  /// Copies `count` bytes at `offset` of the file into `buffer`; zeros past the file's end, and false
  /// then (a short read).
  func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) -> Bool {
    state.withLock { _ in
      let available = max(0, min(count, Self.length(of: region) - offset))
      if available > 0 {
        region.withUnsafeBytes { bytes in
          buffer.copyMemory(from: bytes.baseAddress! + Self.dataOffset + offset, byteCount: available)
        }
      }
      if available < count { (buffer + available).initializeMemory(as: UInt8.self, repeating: 0, count: count - available) }
      return available == count
    }
  }

  /// Writes `count` bytes from `source` at `offset`, growing the region when the file outgrows it.
  ///
  /// SQLite writes whole pages, of which a transaction usually changes a few lines (a field, a cell
  /// pointer, the change counter): only the 64-byte lines whose bytes differ are stored, so only they
  /// are tracked and logged at the commit.
  func write(_ source: UnsafeRawPointer, count: Int, at offset: Int) throws(SnapshotError) {
    try withRegion { region throws(SnapshotError) in
      let end = offset + count
      try Self.reserve(region, fileLength: end)
      region.withUnsafeBytes { current in
        var position = 0
        var changed: Int?  // the start of the run of changed lines being gathered
        while position < count {
          let lineEnd = min(count, (Self.dataOffset + offset + position) / 64 * 64 + 64 - Self.dataOffset - offset)
          let differs = memcmp(current.baseAddress! + Self.dataOffset + offset + position, source + position, lineEnd - position) != 0
          if differs, changed == nil { changed = position }
          if !differs, let start = changed {
            region.copy(from: UnsafeRawBufferPointer(start: source + start, count: position - start), to: Self.dataOffset + offset + start)
            changed = nil
          }
          position = lineEnd
        }
        if let start = changed {
          region.copy(from: UnsafeRawBufferPointer(start: source + start, count: count - start), to: Self.dataOffset + offset + start)
        }
      }
      if end > Self.length(of: region) { region.store(UInt64(end), at: Self.lengthOffset) }
    }
  }

  /// Makes the file `length` bytes long; the bytes cut off become zeros.
  func truncate(to length: Int) throws(SnapshotError) {
    try withRegion { region throws(SnapshotError) in
      let current = Self.length(of: region)
      if length < current {
        region.fill(0, at: Self.dataOffset + length, count: current - length)
      } else {
        try Self.reserve(region, fileLength: length)
      }
      region.store(UInt64(length), at: Self.lengthOffset)
    }
  }

  var length: Int { state.withLock { _ in Self.length(of: region) } }

  /// Commits every change since the last commit as one failure-atomic msync.
  func commit() throws(SnapshotError) {
    try withRegion { region throws(SnapshotError) in
      if region.hasChanges { try commitChanges(region) }
    }
  }

  private static func length(of region: Region) -> Int {
    Int(region.load(UInt64.self, at: lengthOffset))
  }

  /// Grows `region` to hold a file of `fileLength` bytes: by an eighth at least (and a mebibyte), so
  /// that a file written page by page grows it a logarithmic number of times.
  private static func reserve(_ region: Region, fileLength: Int) throws(SnapshotError) {
    let needed = dataOffset + fileLength
    guard needed > region.size else { return }
    try region.grow(to: min(max(needed, region.size + max(region.size / 8, 1 << 20)), max(needed, region.maximumSize)))
  }

  // MARK: Locks

  /// Moves `handle` to SQLite's lock `level`, or returns `SQLITE_BUSY`.
  func lock(_ handle: DatabaseHandle, to level: Int32) -> Int32 {
    state.withLock { $0.locks.lock(handle, to: level) }
  }

  /// Moves `handle` down to `level`; a handle that leaves a write lock first commits what its
  /// transaction left uncommitted (SQLite syncs before it unlocks, so only a rolled-back transaction's
  /// restored pages, equal to what is committed, are ever left).
  func unlock(_ handle: DatabaseHandle, to level: Int32) throws(SnapshotError) {
    try state.withLock { (state: inout State) throws(SnapshotError) in
      if handle.level >= SQLITE_LOCK_RESERVED, level < SQLITE_LOCK_RESERVED, region.hasChanges {
        try commitChanges(region)
      }
      state.locks.unlock(handle, to: level)
    }
  }

  /// Whether any connection holds a write lock (RESERVED or above).
  var isReserved: Bool { state.withLock { $0.locks.writer != nil } }
}
