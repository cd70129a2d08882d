import CSQLite

/// What SQLite's `sqlite3_file` holds for a file of this VFS: the methods pointer SQLite reads, then
/// the handle, retained. The one place that reads or writes past SQLite's own struct.
enum FileSlot {
  static var size: Int { MemoryLayout<sqlite3_file>.stride + MemoryLayout<UnsafeMutableRawPointer>.size }

  private static func handleAddress(_ file: UnsafeMutablePointer<sqlite3_file>) -> UnsafeMutablePointer<UnsafeMutableRawPointer> {
    (UnsafeMutableRawPointer(file) + MemoryLayout<sqlite3_file>.stride).assumingMemoryBound(to: UnsafeMutableRawPointer.self)
  }

  static func install(_ handle: AnyObject, in file: UnsafeMutablePointer<sqlite3_file>, methods: UnsafePointer<sqlite3_io_methods>) {
    handleAddress(file).initialize(to: Unmanaged.passRetained(handle).toOpaque())
    file.pointee.pMethods = methods
  }

  static func handle<Handle: AnyObject>(_ file: UnsafeMutablePointer<sqlite3_file>?, as type: Handle.Type) -> Handle {
    Unmanaged<Handle>.fromOpaque(handleAddress(file!).pointee).takeUnretainedValue()
  }

  /// Gives back the reference `install` took; the file is closed.
  static func remove<Handle: AnyObject>(_ file: UnsafeMutablePointer<sqlite3_file>?, as type: Handle.Type) -> Handle {
    let handle = Unmanaged<Handle>.fromOpaque(handleAddress(file!).pointee).takeRetainedValue()
    file!.pointee.pMethods = nil
    return handle
  }
}

/// One connection's view of a database file: the shared file and the lock this connection holds.
final class DatabaseHandle {
  let file: DatabaseFile
  /// SQLite's lock level for this connection; changed only through the file's `LockTable`.
  var level = SQLITE_LOCK_NONE

  init(_ file: DatabaseFile) { self.file = file }
}

/// A rollback journal of a database this VFS has open.
final class JournalHandle {
  let name: String
  let journal: MemoryJournal

  init(name: String, journal: MemoryJournal) {
    self.name = name
    self.journal = journal
  }
}
