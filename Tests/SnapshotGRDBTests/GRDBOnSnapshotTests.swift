import GRDB
import Snapshot
import SnapshotSQLite
import SystemPackage
import SnapshotTestSupport
import Testing

/// GRDB, unchanged, opens a database through the snapshot VFS by its URI.
@Suite struct GRDBOnSnapshotTests {
  struct Player: Codable, Equatable, FetchableRecord, MutablePersistableRecord {
    var id: Int64?
    var name: String
    var score: Int

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
  }

  struct Abort: Error {}

  static func migrator() -> DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("players") { db in
      try db.create(table: "player") { table in
        table.autoIncrementedPrimaryKey("id")
        table.column("name", .text).notNull().unique()
        table.column("score", .integer).notNull()
      }
    }
    migrator.registerMigration("scores index") { db in
      try db.create(index: "player_score", on: "player", columns: ["score"])
    }
    return migrator
  }

  @Test(arguments: [false, true])
  func aDatabaseQueueMigratesWritesRollsBackAndReads(onDisk: Bool) throws {
    try SnapshotVFS.register()
    let directory = TestDirectory(onDisk: onDisk)
    let uri = "file:\(directory.path)/game.db?vfs=snapshot"
    do {
      let queue = try DatabaseQueue(path: uri)
      try Self.migrator().migrate(queue)
      try queue.write { db in
        var arthur = Player(id: nil, name: "Arthur", score: 100)
        try arthur.insert(db)
        var barbara = Player(id: nil, name: "Barbara", score: 1000)
        try barbara.insert(db)
      }
      // A transaction that throws rolls back, as it does on SQLite's own files.
      #expect(throws: Abort.self) {
        try queue.write { db in
          try db.execute(sql: "UPDATE player SET score = score + 1")
          var craig = Player(id: nil, name: "Craig", score: 10)
          try craig.insert(db)
          throw Abort()
        }
      }
      // So does one that breaks a constraint.
      #expect(throws: DatabaseError.self) {
        try queue.write { db in
          var again = Player(id: nil, name: "Arthur", score: 5)
          try again.insert(db)
        }
      }
      try queue.close()
    }
    // The file is a region that committed every transaction, not a SQLite file.
    #expect(try Region.inspect(at: FilePath("\(directory.path)/game.db")).epoch >= 4)
    let reopened = try DatabaseQueue(path: uri)
    let players = try reopened.read { db in try Player.order(Column("score").desc).fetchAll(db) }
    #expect(players.map(\.name) == ["Barbara", "Arthur"])
    #expect(players.map(\.score) == [1000, 100])
    #expect(try reopened.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
    #expect(try reopened.read { db in try Self.migrator().appliedMigrations(db) } == ["players", "scores index"])
  }

  /// A pool needs write-ahead logging, which the VFS refuses: a queue is the way to use GRDB on it.
  @Test func aDatabasePoolIsRefusedWithTheVFSsReason() throws {
    try SnapshotVFS.register()
    let directory = TestDirectory()
    let error = #expect(throws: DatabaseError.self) { try DatabasePool(path: "file:\(directory.path)/game.db?vfs=snapshot") }
    #expect(error?.message?.contains("does not support WAL") == true)
  }
}
