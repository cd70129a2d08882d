import CSQLite
import Snapshot

/// What SQLite calls on a database file of this VFS (version 1: no shared memory, so no WAL).
nonisolated(unsafe) let databaseMethods: UnsafePointer<sqlite3_io_methods> = {
  var methods = sqlite3_io_methods()
  methods.iVersion = 1
  methods.xClose = { file in
    let handle = FileSlot.remove(file, as: DatabaseHandle.self)
    // SQLite unlocks before it closes; a handle closed holding a lock gives it up, committing first.
    let failed = (try? handle.file.unlock(handle, to: SQLITE_LOCK_NONE)) == nil
    handle.file.release()
    return failed ? ResultCode.closeFailed : SQLITE_OK
  }
  methods.xRead = { file, buffer, count, offset in
    FileSlot.handle(file, as: DatabaseHandle.self).file.read(into: buffer!, count: Int(count), at: Int(offset))
      ? SQLITE_OK : ResultCode.shortRead
  }
  methods.xWrite = { file, source, count, offset in
    result(of: { () throws(SnapshotError) in
      try FileSlot.handle(file, as: DatabaseHandle.self).file.write(source!, count: Int(count), at: Int(offset))
    }, failing: ResultCode.writeFailed)
  }
  methods.xTruncate = { file, length in
    result(of: { () throws(SnapshotError) in try FileSlot.handle(file, as: DatabaseHandle.self).file.truncate(to: Int(length)) },
      failing: ResultCode.truncateFailed)
  }
  methods.xSync = { file, _ in
    result(of: { () throws(SnapshotError) in try FileSlot.handle(file, as: DatabaseHandle.self).file.commit() }, failing: ResultCode.syncFailed)
  }
  methods.xFileSize = { file, size in
    size?.pointee = sqlite3_int64(FileSlot.handle(file, as: DatabaseHandle.self).file.length)
    return SQLITE_OK
  }
  methods.xLock = { file, level in
    let handle = FileSlot.handle(file, as: DatabaseHandle.self)
    return handle.file.lock(handle, to: level)
  }
  methods.xUnlock = { file, level in
    let handle = FileSlot.handle(file, as: DatabaseHandle.self)
    return result(of: { () throws(SnapshotError) in try handle.file.unlock(handle, to: level) }, failing: ResultCode.unlockFailed)
  }
  methods.xCheckReservedLock = { file, reserved in
    reserved?.pointee = FileSlot.handle(file, as: DatabaseHandle.self).file.isReserved ? 1 : 0
    return SQLITE_OK
  }
  methods.xFileControl = { file, operation, argument in
    let database = FileSlot.handle(file, as: DatabaseHandle.self).file
    switch operation {
    case SQLITE_FCNTL_SYNC, SQLITE_FCNTL_COMMIT_PHASETWO:
      // Where SQLite syncs the database file, or would under `synchronous=OFF`: the commit.
      return result(of: { () throws(SnapshotError) in try database.commit() }, failing: ResultCode.syncFailed)
    case SQLITE_FCNTL_PRAGMA:
      return refuseWriteAheadLogging(argument!.assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self), path: database.path)
    default:
      return SQLITE_NOTFOUND
    }
  }
  methods.xSectorSize = { _ in 4096 }
  methods.xDeviceCharacteristics = { _ in deviceCharacteristics }
  return UnsafePointer(allocate(methods))
}()

/// What SQLite calls on a rollback journal kept in memory.
nonisolated(unsafe) let journalMethods: UnsafePointer<sqlite3_io_methods> = {
  var methods = sqlite3_io_methods()
  methods.iVersion = 1
  methods.xClose = { file in
    _ = FileSlot.remove(file, as: JournalHandle.self)
    return SQLITE_OK
  }
  methods.xRead = { file, buffer, count, offset in
    FileSlot.handle(file, as: JournalHandle.self).journal.read(into: buffer!, count: Int(count), at: Int(offset))
      ? SQLITE_OK : ResultCode.shortRead
  }
  methods.xWrite = { file, source, count, offset in
    FileSlot.handle(file, as: JournalHandle.self).journal.write(source!, count: Int(count), at: Int(offset))
    return SQLITE_OK
  }
  methods.xTruncate = { file, length in
    FileSlot.handle(file, as: JournalHandle.self).journal.truncate(to: Int(length))
    return SQLITE_OK
  }
  methods.xSync = { _, _ in SQLITE_OK }
  methods.xFileSize = { file, size in
    size?.pointee = sqlite3_int64(FileSlot.handle(file, as: JournalHandle.self).journal.count)
    return SQLITE_OK
  }
  methods.xLock = { _, _ in SQLITE_OK }
  methods.xUnlock = { _, _ in SQLITE_OK }
  methods.xCheckReservedLock = { _, reserved in
    reserved?.pointee = 0
    return SQLITE_OK
  }
  methods.xFileControl = { _, _, _ in SQLITE_NOTFOUND }
  methods.xSectorSize = { _ in 4096 }
  methods.xDeviceCharacteristics = { _ in deviceCharacteristics }
  return UnsafePointer(allocate(methods))
}()

/// Writes that a crash cannot tear apart from their neighbours (a commit is atomic), appends that
/// never show garbage, and writes in order.
private let deviceCharacteristics = SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL

private func allocate(_ methods: sqlite3_io_methods) -> UnsafeMutablePointer<sqlite3_io_methods> {
  let pointer = UnsafeMutablePointer<sqlite3_io_methods>.allocate(capacity: 1)
  pointer.initialize(to: methods)
  return pointer
}

/// `SQLITE_OK`, or the code for a failure: `SQLITE_FULL` when the region reached its maximum or the
/// file system is full (nothing is lost: the transaction can be retried), `failing` otherwise.
private func result(of body: () throws(SnapshotError) -> Void, failing code: Int32) -> Int32 {
  do {
    try body()
    return SQLITE_OK
  } catch {
    switch error {
    case .maximumSizeReached, .noSpace: return SQLITE_FULL
    default: return code
    }
  }
}

/// `PRAGMA journal_mode=WAL` fails with a message saying why; other pragmas go on as usual.
private func refuseWriteAheadLogging(_ arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, path: String) -> Int32 {
  guard let name = arguments[1], String(cString: name).lowercased() == "journal_mode",
    let value = arguments[2], String(cString: value).lowercased() == "wal"
  else { return SQLITE_NOTFOUND }
  let message = "\(path): the snapshot VFS does not support WAL: every commit is already one atomic msync, "
    + "so the rollback journal is kept in memory and costs nothing at commit; keep journal_mode DELETE (the default) or MEMORY"
  // SQLite frees the message with sqlite3_free, so it must come from sqlite3_malloc.
  let bytes = Array(message.utf8CString)
  guard let copy = sqlite3_malloc(Int32(bytes.count)) else { return SQLITE_NOMEM }
  bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
  arguments[0] = copy.assumingMemoryBound(to: CChar.self)
  return SQLITE_ERROR
}
