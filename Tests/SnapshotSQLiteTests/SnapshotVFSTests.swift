import CSQLite
import Snapshot
import SnapshotSQLite
import SnapshotTestSupport
import Foundation
import SystemPackage
import Testing

/// The epoch of the open database's region.
private func epoch(_ path: String) throws -> UInt64? {
  try SnapshotVFS.withOpenRegion(path: path) { $0.epoch }
}

@Suite struct SnapshotVFSTests {
  static let media: [Bool] = [false, true]  // persistent memory (tmpfs), an ordinary file system

  @Test(arguments: media)
  func committedRowsSurviveClosingAndReopening(onDisk: Bool) throws {
    let directory = TestDirectory(onDisk: onDisk)
    let path = "\(directory.path)/app.db"
    do {
      let database = try SQLiteConnection(path: path)
      try database.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
      try database.execute("INSERT INTO notes(text) VALUES (?)", ["first"])
      try database.execute("BEGIN; INSERT INTO notes(text) VALUES ('second'); INSERT INTO notes(text) VALUES ('third'); COMMIT")
    }
    let reopened = try SQLiteConnection(path: path, create: false)
    #expect(try reopened.rows("SELECT text FROM notes ORDER BY id") == [["first"], ["second"], ["third"]])
    #expect(try reopened.rows("PRAGMA integrity_check") == [["ok"]])
    let region = try reopened.rows("PRAGMA journal_mode")
    #expect(region == [["delete"]])
  }

  @Test func theRegionIsTheDatabaseFileAndNoJournalReachesTheDisk() throws {
    let directory = TestDirectory(onDisk: true)
    let path = "\(directory.path)/app.db"
    let database = try SQLiteConnection(path: path)
    try database.execute("CREATE TABLE t(x)")
    try database.execute("BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
    #expect(!FileManager.default.fileExists(atPath: path + "-journal"))
    try database.execute("COMMIT")
    #expect(try epoch(path)! > 1)
    #expect(FileManager.default.fileExists(atPath: path + "-log"))  // the file medium's redo log
  }

  @Test func rollbackAndAFailedStatementLeaveTheCommittedRows() throws {
    let directory = TestDirectory()
    let database = try SQLiteConnection(path: "\(directory.path)/app.db")
    try database.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))")
    try database.execute("INSERT INTO accounts(balance) VALUES (100), (100)")
    try database.execute("BEGIN; UPDATE accounts SET balance = balance - 30 WHERE id = 1; UPDATE accounts SET balance = balance + 30 WHERE id = 2")
    try database.execute("ROLLBACK")
    #expect(try database.rows("SELECT balance FROM accounts ORDER BY id") == [[100], [100]])
    // One statement over both rows fails at the second: the statement's own changes roll back.
    #expect(throws: SQLiteError.self) { try database.execute("UPDATE accounts SET balance = balance - 60 * id") }
    #expect(try database.rows("SELECT balance FROM accounts ORDER BY id") == [[100], [100]])
    #expect(try database.rows("PRAGMA integrity_check") == [["ok"]])
  }

  @Test func aTransactionLargerThanThePageCacheRollsBack() throws {
    let directory = TestDirectory()
    let database = try SQLiteConnection(path: "\(directory.path)/app.db")
    try database.execute("PRAGMA cache_size = 10; CREATE TABLE t(x BLOB)")
    try database.execute("INSERT INTO t VALUES (zeroblob(1000))")
    // Far more pages than the cache holds: SQLite writes some to the file before the transaction ends.
    try database.execute("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT randomblob(1000) FROM n")
    try database.execute("ROLLBACK")
    #expect(try database.rows("SELECT count(*) FROM t") == [[1]])
    #expect(try database.rows("PRAGMA integrity_check") == [["ok"]])
  }

  @Test func theRegionGrowsWithTheDatabase() throws {
    let directory = TestDirectory()
    let path = "\(directory.path)/app.db"
    let database = try SQLiteConnection(path: path)
    try database.execute("CREATE TABLE t(x BLOB)")
    try database.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO t SELECT randomblob(1000) FROM n")
    #expect(try database.rows("SELECT count(*) FROM t") == [[5000]])
    try database.execute("DELETE FROM t; VACUUM")
    #expect(try database.rows("SELECT count(*) FROM t") == [[0]])
    #expect(try database.rows("PRAGMA integrity_check") == [["ok"]])
  }

  @Test func aRegionAtItsMaximumReportsAFullDatabaseAndKeepsItsRows() throws {
    let directory = TestDirectory()
    let database = try SQLiteConnection(path: "\(directory.path)/app.db", parameters: ["maximum": "\(2 << 20)"])
    try database.execute("CREATE TABLE t(x BLOB)")
    try database.execute("INSERT INTO t VALUES (randomblob(1000))")
    let error = #expect(throws: SQLiteError.self) {
      try database.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO t SELECT randomblob(1000) FROM n")
    }
    #expect(error?.code == SQLITE_FULL)
    #expect(try database.rows("SELECT count(*) FROM t") == [[1]])
    try database.execute("INSERT INTO t VALUES (randomblob(1000))")
    #expect(try database.rows("SELECT count(*) FROM t") == [[2]])
  }

  @Test func writeAheadLoggingIsRefusedWithAReason() throws {
    let directory = TestDirectory()
    let database = try SQLiteConnection(path: "\(directory.path)/app.db")
    let error = #expect(throws: SQLiteError.self) { try database.execute("PRAGMA journal_mode = WAL") }
    #expect(error?.message.contains("does not support WAL") == true)
    try database.execute("PRAGMA journal_mode = MEMORY; CREATE TABLE t(x); INSERT INTO t VALUES (1)")
    #expect(try database.rows("SELECT x FROM t") == [[1]])
  }

  @Test func synchronousOffStillCommitsEachTransaction() throws {
    let directory = TestDirectory()
    let path = "\(directory.path)/app.db"
    let database = try SQLiteConnection(path: path)
    try database.execute("PRAGMA synchronous = OFF; CREATE TABLE t(x)")
    let before = try epoch(path)!
    try database.execute("INSERT INTO t VALUES (1)")
    #expect(try epoch(path) == before + 1)
    #expect(try SnapshotVFS.withOpenRegion(path: path) { $0.hasChanges } == false)
  }

  @Test func twoConnectionsFollowSQLiteLocking() throws {
    let directory = TestDirectory()
    let path = "\(directory.path)/app.db"
    let writer = try SQLiteConnection(path: path)
    let reader = try SQLiteConnection(path: path)
    try writer.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
    #expect(try reader.rows("SELECT x FROM t") == [[1]])
    try writer.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (2)")
    // The writer holds RESERVED: the reader still reads the committed rows, and cannot write.
    #expect(try reader.rows("SELECT count(*) FROM t") == [[1]])
    let busy = #expect(throws: SQLiteError.self) { try reader.execute("INSERT INTO t VALUES (3)") }
    #expect(busy?.code == SQLITE_BUSY)
    // A reader inside a transaction keeps the writer from committing until it ends.
    try reader.execute("BEGIN; SELECT count(*) FROM t")
    let blocked = #expect(throws: SQLiteError.self) { try writer.execute("COMMIT") }
    #expect(blocked?.code == SQLITE_BUSY)
    try reader.execute("COMMIT")
    try writer.execute("COMMIT")
    #expect(try reader.rows("SELECT count(*) FROM t") == [[2]])
  }

  @Test func anotherProcessIsKeptOutWithAReason() throws {
    let directory = TestDirectory()
    let path = "\(directory.path)/app.db"
    let database = try SQLiteConnection(path: path)
    try database.execute("CREATE TABLE t(x)")
    let result = try runSnapshot(["info", path])
    #expect(result.status != 0)
    #expect(result.standardError.contains("in use: another process"))
  }

  @Test func aURIOpensTheDatabaseWithoutTheSwiftAPI() throws {
    try SnapshotVFS.register()
    let directory = TestDirectory()
    var handle: OpaquePointer?
    #expect(sqlite3_open_v2("file:\(directory.path)/app.db?vfs=snapshot", &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nil) == SQLITE_OK)
    #expect(sqlite3_exec(handle, "CREATE TABLE t(x); INSERT INTO t VALUES (42)", nil, nil, nil) == SQLITE_OK)
    sqlite3_close(handle)
    #expect(try Region.inspect(at: FilePath("\(directory.path)/app.db")).epoch > 0)
    #expect(try SQLiteConnection(path: "\(directory.path)/app.db", create: false).rows("SELECT x FROM t") == [[42]])
  }

  @Test func aRegionHoldingSomethingElseIsRefusedWithAReason() throws {
    let directory = TestDirectory()
    let path = "\(directory.path)/other"
    let region = try Region.create(at: FilePath(path), size: 1 << 16)
    region.store(UInt64(7), at: 0)
    try region.msync()
    try region.close()
    let error = #expect(throws: SQLiteError.self) { try SQLiteConnection(path: path, create: false) }
    #expect(error?.message.contains("something other than a SQLite database") == true)
    let missing = #expect(throws: SQLiteError.self) { try SQLiteConnection(path: "\(directory.path)/missing.db", create: false) }
    #expect(missing?.message.contains("missing.db") == true)
  }
}
