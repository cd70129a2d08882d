import CSQLite

/// SQLite's five lock levels among the connections of one process that share a database file, with
/// the rules of its own POSIX VFS: many readers (SHARED); one writer-to-be (RESERVED) among them; a
/// writer that waits for readers to leave (PENDING) keeps new ones out; EXCLUSIVE once it is alone.
struct LockTable {
  /// Handles at SHARED or above.
  private(set) var readers = 0
  /// The handle at RESERVED, PENDING or EXCLUSIVE.
  private(set) var writer: ObjectIdentifier?
  private var pending = false

  mutating func lock(_ handle: DatabaseHandle, to level: Int32) -> Int32 {
    let me = ObjectIdentifier(handle)
    guard level > handle.level else { return SQLITE_OK }
    if handle.level == SQLITE_LOCK_NONE {
      // SHARED first; a pending writer keeps new readers out.
      guard writer == nil || !pending else { return SQLITE_BUSY }
      readers += 1
      handle.level = SQLITE_LOCK_SHARED
      if level == SQLITE_LOCK_SHARED { return SQLITE_OK }
    }
    guard writer == nil || writer == me else { return SQLITE_BUSY }
    writer = me
    if level == SQLITE_LOCK_RESERVED {
      handle.level = SQLITE_LOCK_RESERVED
      return SQLITE_OK
    }
    pending = true
    guard readers == 1 else {
      handle.level = SQLITE_LOCK_PENDING
      return SQLITE_BUSY
    }
    handle.level = SQLITE_LOCK_EXCLUSIVE
    return SQLITE_OK
  }

  mutating func unlock(_ handle: DatabaseHandle, to level: Int32) {
    if handle.level >= SQLITE_LOCK_RESERVED, level < SQLITE_LOCK_RESERVED {
      writer = nil
      pending = false
      handle.level = SQLITE_LOCK_SHARED
    }
    if handle.level >= SQLITE_LOCK_SHARED, level == SQLITE_LOCK_NONE {
      readers -= 1
      handle.level = SQLITE_LOCK_NONE
    }
  }
}
