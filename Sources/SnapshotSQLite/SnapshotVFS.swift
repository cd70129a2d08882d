#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSQLite
import Snapshot
import Synchronization

/// The `snapshot` VFS: SQLite keeps a database's main file in a Snapshot region, and its commit
/// becomes one failure-atomic msync.
///
/// Reads are loads from the region's working copy and writes are tracked stores; the file's length
/// lives in the region too. SQLite syncs the database file once per transaction, after writing all of
/// its pages: that sync is the region's msync, so the transaction is durable and atomic at once, and
/// the rollback journal need not be: journals stay in memory, where `ROLLBACK` and statement rollback
/// use them as usual. Write-ahead logging is refused (`PRAGMA journal_mode=WAL` fails with a message
/// saying so). `PRAGMA synchronous=OFF` does not make commits less durable here: SQLite tells the VFS
/// where it would have synced, and the VFS commits there. Temporary files and statement journals go to
/// the default VFS.
///
/// Open a database through it with a URI, `file:PATH?vfs=snapshot`, or with ``SQLiteConnection``. URI
/// parameters for a new database: `backing=pm` or `backing=file` (by default chosen by the directory's
/// file system), `maximum=BYTES` (how large the region may grow; by default the largest region).
///
/// Connections of one process share the region and follow SQLite's locking among themselves; the
/// region's file lock keeps other processes out. A transaction across attached databases commits
/// each database atomically, but not all of them together.
public enum SnapshotVFS {
  /// The name to pass as `vfs=` in a URI or to `sqlite3_open_v2`.
  public static let name = "snapshot"

  /// Registers the VFS with SQLite, once; later calls do nothing.
  ///
  /// - Throws: ``SQLiteError`` when SQLite refuses the registration.
  public static func register() throws(SQLiteError) {
    let code = registration.code
    guard code == SQLITE_OK else { throw SQLiteError(code: code, message: "registering the snapshot VFS failed") }
  }

  /// Runs `body` on the region of the database at `path` (absolute), if a connection of this process
  /// has it open, with no connection inside the region meanwhile.
  package static func withOpenRegion<R>(path: String, _ body: (Region) throws(SnapshotError) -> R) throws(SnapshotError) -> R? {
    guard let file = DatabaseFile.opened(path: path) else { return nil }
    return try file.withRegion(body)
  }

  /// Lets connections of this process open `region`, which its caller owns, as the database at `path`
  /// (absolute) while `body` runs; every commit goes through `commit`. For the crash simulator, which
  /// records each msync and checks each recovered region. `body` closes the connections it opens.
  package static func lending<R>(
    _ region: Region, as path: String, commit: @escaping (Region) throws(SnapshotError) -> Void = { region throws(SnapshotError) in try region.msync() },
    _ body: () throws -> R
  ) throws -> R {
    try register()
    let file = try DatabaseFile.adopt(region, path: path, commit: commit)
    defer { file.release() }
    return try body()
  }

  /// Why the last attempt to open the database at `path` (absolute) failed, if it did.
  static func openFailure(path: String) -> String? { openFailures.withLock { $0[path] } }

  static let openFailures = Mutex<[String: String]>([:])
}

/// The registered VFS and the default one it hands other files to. Built once, never freed: SQLite
/// keeps the pointer.
final class Registration: @unchecked Sendable {
  let vfs: UnsafeMutablePointer<sqlite3_vfs>
  let fallback: UnsafeMutablePointer<sqlite3_vfs>
  let code: Int32

  init() {
    fallback = sqlite3_vfs_find(nil)
    vfs = .allocate(capacity: 1)
    vfs.initialize(to: sqlite3_vfs())
    vfs.pointee.iVersion = 2
    vfs.pointee.szOsFile = max(fallback.pointee.szOsFile, Int32(FileSlot.size))
    vfs.pointee.mxPathname = fallback.pointee.mxPathname
    vfs.pointee.zName = UnsafePointer(strdup(SnapshotVFS.name))
    vfs.pointee.xOpen = openFile
    vfs.pointee.xDelete = deleteFile
    vfs.pointee.xAccess = accessFile
    vfs.pointee.xFullPathname = { _, name, count, out in
      registration.fallback.pointee.xFullPathname(registration.fallback, name, count, out)
    }
    vfs.pointee.xDlOpen = { _, name in registration.fallback.pointee.xDlOpen(registration.fallback, name) }
    vfs.pointee.xDlError = { _, count, message in registration.fallback.pointee.xDlError(registration.fallback, count, message) }
    vfs.pointee.xDlSym = { _, handle, symbol in registration.fallback.pointee.xDlSym(registration.fallback, handle, symbol) }
    vfs.pointee.xDlClose = { _, handle in registration.fallback.pointee.xDlClose(registration.fallback, handle) }
    vfs.pointee.xRandomness = { _, count, out in registration.fallback.pointee.xRandomness(registration.fallback, count, out) }
    vfs.pointee.xSleep = { _, microseconds in registration.fallback.pointee.xSleep(registration.fallback, microseconds) }
    vfs.pointee.xCurrentTime = { _, time in registration.fallback.pointee.xCurrentTime(registration.fallback, time) }
    vfs.pointee.xGetLastError = { _, count, out in registration.fallback.pointee.xGetLastError(registration.fallback, count, out) }
    vfs.pointee.xCurrentTimeInt64 = { _, time in registration.fallback.pointee.xCurrentTimeInt64(registration.fallback, time) }
    code = sqlite3_vfs_register(vfs, 0)
  }
}

let registration = Registration()

/// The journal SQLite names for a database this VFS has open is kept in memory; any other file goes to
/// the default VFS.
private func isManagedJournal(_ name: String) -> Bool {
  name.hasSuffix("-journal") && DatabaseFile.isOpen(path: String(name.dropLast("-journal".count)))
}

private func openFile(
  _ vfs: UnsafeMutablePointer<sqlite3_vfs>?, _ name: sqlite3_filename?, _ file: UnsafeMutablePointer<sqlite3_file>?, _ flags: Int32,
  _ outFlags: UnsafeMutablePointer<Int32>?
) -> Int32 {
  guard let file else { return SQLITE_MISUSE }
  file.pointee.pMethods = nil
  if flags & SQLITE_OPEN_MAIN_DB != 0, let name {
    let path = String(cString: name)
    var options = Region.CreateOptions()
    if let backing = sqlite3_uri_parameter(name, "backing").map({ String(cString: $0) }) {
      switch backing {
      case "pm": options.backing = .persistentMemory
      case "file": options.backing = .file
      default:
        SnapshotVFS.openFailures.withLock { $0[path] = "\(path): backing=\(backing) is neither pm nor file" }
        return SQLITE_CANTOPEN
      }
    }
    if sqlite3_uri_parameter(name, "maximum") != nil {
      options.maximumSize = Int(sqlite3_uri_int64(name, "maximum", 0))
    }
    do {
      let database = try DatabaseFile.retain(path: path, create: flags & SQLITE_OPEN_CREATE != 0, options: options)
      SnapshotVFS.openFailures.withLock { $0[path] = nil }
      FileSlot.install(DatabaseHandle(database), in: file, methods: databaseMethods)
    } catch {
      SnapshotVFS.openFailures.withLock { $0[path] = error.description }
      return SQLITE_CANTOPEN
    }
  } else if flags & SQLITE_OPEN_MAIN_JOURNAL != 0, let name, isManagedJournal(String(cString: name)) {
    let journalName = String(cString: name)
    FileSlot.install(JournalHandle(name: journalName, journal: MemoryJournal.open(journalName)), in: file, methods: journalMethods)
  } else {
    return registration.fallback.pointee.xOpen(registration.fallback, name, file, flags, outFlags)
  }
  outFlags?.pointee = flags
  return SQLITE_OK
}

private func deleteFile(_ vfs: UnsafeMutablePointer<sqlite3_vfs>?, _ name: UnsafePointer<CChar>?, _ syncDirectory: Int32) -> Int32 {
  if let name, isManagedJournal(String(cString: name)) {
    MemoryJournal.delete(String(cString: name))
    return SQLITE_OK
  }
  return registration.fallback.pointee.xDelete(registration.fallback, name, syncDirectory)
}

private func accessFile(
  _ vfs: UnsafeMutablePointer<sqlite3_vfs>?, _ name: UnsafePointer<CChar>?, _ flags: Int32, _ result: UnsafeMutablePointer<Int32>?
) -> Int32 {
  if let name, isManagedJournal(String(cString: name)) {
    result?.pointee = MemoryJournal.exists(String(cString: name)) ? 1 : 0
    return SQLITE_OK
  }
  return registration.fallback.pointee.xAccess(registration.fallback, name, flags, result)
}
