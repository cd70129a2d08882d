import CSQLite
import Foundation
import SnapshotSQLite
import YCSB

/// SQLite, the same SQL for every configuration: YCSB's table `usertable(YCSB_KEY TEXT PRIMARY KEY,
/// FIELD0..FIELD9)`, a field per column, prepared statements, one transaction from the first
/// operation after a commit to the next commit. Only how SQLite keeps the file differs.
final class SQLiteEngine: KeyValueEngine {
  /// How SQLite makes a transaction durable.
  enum Mode {
    /// Its default: a rollback journal deleted at commit, synchronous=FULL.
    case rollbackJournal
    /// Write-ahead logging with synchronous=FULL: the log synced at every commit.
    case writeAheadLog
    /// Write-ahead logging with synchronous=NORMAL: the log synced only at checkpoints, so a commit
    /// is atomic but not durable when it returns.
    case writeAheadLogNormal
    /// The snapshot VFS: the file in a region, each commit one failure-atomic msync.
    case snapshot
  }

  private let database: OpaquePointer
  private let mode: Mode
  private let medium: MediumKind
  private let snapshot: SQLiteConnection?
  private var inTransaction = false
  private let read: OpaquePointer, insert: OpaquePointer, scan: OpaquePointer
  private let updates: [OpaquePointer]

  static let fields = CoreWorkload.fieldCount
  static let fieldLength = CoreWorkload.fieldLength

  init(path: String, mode: Mode, medium: MediumKind) throws {
    self.mode = mode
    self.medium = medium
    if mode == .snapshot {
      let connection = try SQLiteConnection(path: path)
      snapshot = connection
      database = connection.handle
    } else {
      snapshot = nil
      var handle: OpaquePointer?
      guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let handle else {
        throw BaselineError(description: "sqlite3_open_v2 \(path) failed")
      }
      database = handle
    }
    let columns = (0..<Self.fields).map { "FIELD\($0)" }
    let pragmas = switch mode {
    case .rollbackJournal: "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;"
    case .writeAheadLog: "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
    case .writeAheadLogNormal: "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    case .snapshot: ""
    }
    try Self.execute(
      database,
      pragmas + "CREATE TABLE usertable(YCSB_KEY TEXT PRIMARY KEY, " + columns.map { "\($0) BLOB" }.joined(separator: ", ") + ")")
    read = try Self.prepare(database, "SELECT \(columns.joined(separator: ", ")) FROM usertable WHERE YCSB_KEY = ?1")
    insert = try Self.prepare(
      database, "INSERT OR REPLACE INTO usertable VALUES (?1, " + (0..<Self.fields).map { "?\($0 + 2)" }.joined(separator: ", ") + ")")
    scan = try Self.prepare(
      database, "SELECT \(columns.joined(separator: ", ")) FROM usertable WHERE YCSB_KEY >= ?1 ORDER BY YCSB_KEY LIMIT ?2")
    let database = database
    updates = try columns.map { try Self.prepare(database, "UPDATE usertable SET \($0) = ?2 WHERE YCSB_KEY = ?1") }
  }

  func read(_ key: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
    try begin()
    defer { sqlite3_reset(read) }
    bindKey(key, to: read)
    let code = sqlite3_step(read)
    if code == SQLITE_DONE { return false }
    try check(code == SQLITE_ROW, "read")
    copyFields(of: read, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Self.fields * Self.fieldLength]))
    return true
  }

  func insert(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
    try begin()
    defer { sqlite3_reset(insert) }
    bindKey(key, to: insert)
    for field in 0..<Self.fields {
      sqlite3_bind_blob(insert, Int32(field + 2), value.baseAddress! + field * Self.fieldLength, Int32(Self.fieldLength), nil)
    }
    try check(sqlite3_step(insert) == SQLITE_DONE, "insert")
  }

  func update(_ key: UnsafeRawBufferPointer, at offset: Int, with bytes: UnsafeRawBufferPointer) throws -> Bool {
    try begin()
    let statement = updates[offset / Self.fieldLength]
    defer { sqlite3_reset(statement) }
    bindKey(key, to: statement)
    sqlite3_bind_blob(statement, 2, bytes.baseAddress, Int32(bytes.count), nil)
    try check(sqlite3_step(statement) == SQLITE_DONE, "update")
    return sqlite3_changes(database) == 1
  }

  func scan(from key: UnsafeRawBufferPointer, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    try begin()
    defer { sqlite3_reset(scan) }
    bindKey(key, to: scan)
    sqlite3_bind_int64(scan, 2, Int64(count))
    let recordSize = Self.fields * Self.fieldLength
    var copied = 0
    while true {
      let code = sqlite3_step(scan)
      if code == SQLITE_DONE { return copied }
      try check(code == SQLITE_ROW, "scan")
      copyFields(of: scan, into: UnsafeMutableRawBufferPointer(rebasing: buffer[copied * recordSize..<(copied + 1) * recordSize]))
      copied += 1
    }
  }

  func commit() throws {
    guard inTransaction else { return }
    try Self.execute(database, "COMMIT")
    inTransaction = false
  }

  /// Write-ahead logging's checkpoint, or the region's: the writes deferred past the commits.
  func settle() throws {
    switch mode {
    case .writeAheadLog, .writeAheadLogNormal: try Self.execute(database, "PRAGMA wal_checkpoint(TRUNCATE)")
    case .snapshot: try snapshot!.checkpointRegion()
    case .rollbackJournal: break
    }
  }

  /// What the engine wrote: on a file system, the bytes this process handed to `write` and `pwrite`
  /// (every configuration writes its files that way; the kernel's `write_bytes` is not used, since on
  /// this machine it counted 2 MiB for each 8 KiB written and synced, where the disk wrote 14 KiB); on
  /// persistent memory, what the region wrote (SQLite's own files on tmpfs count nothing there).
  var bytesWritten: Int? {
    guard medium == .file else { return snapshot?.bytesWritten }
    let io = (try? String(contentsOfFile: "/proc/self/io", encoding: .utf8)) ?? ""
    return io.split(separator: "\n").first { $0.hasPrefix("wchar:") }.flatMap { Int($0.split(separator: " ").last ?? "") }
  }

  var countsFileWrites: Bool { true }

  func close() {
    for statement in [read, insert, scan] + updates { sqlite3_finalize(statement) }
    if snapshot == nil { sqlite3_close_v2(database) }
  }

  private func begin() throws {
    guard !inTransaction else { return }
    try Self.execute(database, "BEGIN")
    inTransaction = true
  }

  @inline(__always)
  private func bindKey(_ key: UnsafeRawBufferPointer, to statement: OpaquePointer) {
    sqlite3_bind_text(statement, 1, key.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(key.count), nil)
  }

  @inline(__always)
  private func copyFields(of statement: OpaquePointer, into record: UnsafeMutableRawBufferPointer) {
    for field in 0..<Self.fields {
      let count = min(Int(sqlite3_column_bytes(statement, Int32(field))), Self.fieldLength)
      if count > 0, let blob = sqlite3_column_blob(statement, Int32(field)) {
        (record.baseAddress! + field * Self.fieldLength).copyMemory(from: blob, byteCount: count)
      }
    }
  }

  private func check(_ condition: Bool, _ operation: String) throws {
    guard condition else { throw BaselineError(description: "sqlite \(operation): \(String(cString: sqlite3_errmsg(database)))") }
  }

  private static func execute(_ database: OpaquePointer, _ sql: String) throws {
    var message: UnsafeMutablePointer<CChar>?
    guard sqlite3_exec(database, sql, nil, nil, &message) == SQLITE_OK else {
      defer { sqlite3_free(message) }
      throw BaselineError(description: "sqlite: \(message.map { String(cString: $0) } ?? "?") in \(sql)")
    }
  }

  private static func prepare(_ database: OpaquePointer, _ sql: String) throws -> OpaquePointer {
    var statement: OpaquePointer?
    guard sqlite3_prepare_v3(database, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
      throw BaselineError(description: "sqlite: \(String(cString: sqlite3_errmsg(database))) in \(sql)")
    }
    return statement
  }
}
