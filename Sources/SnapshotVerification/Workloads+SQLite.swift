import Snapshot
import SnapshotSQLite

extension Workload {
  package static let sqlTransfersName = "bank transfers in SQL (SQLite on the snapshot VFS)"

  /// SQL bank transfers through the snapshot VFS, each a transaction over an indexed table: two
  /// balances change and a memo goes into a ledger (sometimes a few pages long, on overflow pages),
  /// whose oldest entries are deleted, so that the database file grows and, with `auto_vacuum`, shrinks
  /// again. Between transfers: a transaction rolled back, and a statement that breaks a constraint and
  /// rolls back alone. The region starts small and grows with the file. Every recovered region must
  /// pass `PRAGMA integrity_check` and hold the accounts' total, besides holding the bytes of the last
  /// acknowledged transaction or the one in flight (SQLite's commit is the region's msync, recorded).
  package static func sqlTransfers(rounds: Int) -> Workload {
    var workload = Workload(name: sqlTransfersName, regionSize: 8 << 10) { recorder, generator in
      /// Runs `body` with a connection to the recorder's region, each commit recorded.
      func withDatabase(_ body: (SQLiteConnection) throws -> Void) throws {
        let path = recorder.region.path.string
        try SnapshotVFS.lending(recorder.region, as: path, commit: { region throws(SnapshotError) in try recordedMsync(recorder, region) }) {
          try body(try SQLiteConnection(path: path, create: false))
        }
      }
      try withDatabase { database in try sqlBank.create(in: database, pragmas: "PRAGMA page_size = 512; PRAGMA auto_vacuum = FULL;") }
      var transfers = 0
      for round in 0..<rounds {
        // Every third round crashes the process with the connection still open, alternately in
        // SQLite's normal and exclusive locking mode (which never unlocks, so a commit must not wait
        // for an unlock); every fourth runs with synchronous=OFF.
        let crashes = round % 3 == 2
        try withDatabase { database in
          if crashes, round % 6 == 2 { try database.execute("PRAGMA locking_mode = EXCLUSIVE") }
          if round % 4 == 3 { try database.execute("PRAGMA synchronous = OFF") }
          for _ in 0..<2 {
            let amount = Int64.random(in: 1...50, using: &generator)
            let padding = transfers % 4 == 0 ? Int.random(in: 600...2_000, using: &generator) : Int.random(in: 0...100, using: &generator)
            try sqlBank.beginTransfer(in: database, entry: Int64(transfers), amount: amount, padding: padding, using: &generator)
            try database.execute("DELETE FROM ledger WHERE id <= ?", [.integer(Int64(transfers - 4))])
            try database.execute("COMMIT")
            transfers += 1
            recorder.count()
          }
          try database.execute("BEGIN; UPDATE accounts SET balance = balance + 1000000; INSERT INTO ledger(id, memo) VALUES (-1, 'never')")
          try database.execute("ROLLBACK")
          do {
            try database.execute("UPDATE accounts SET balance = balance - 1000000")
            recorder.fail("an update that breaks the CHECK constraint succeeded")
          } catch {}
          // COMMIT returned: the transfers are durable, whatever the connection does next.
          if crashes { try recorder.crashAndReopen() }
        }
        if crashes {
          try withDatabase { database in
            let last = try sqlBank.lastEntry(in: database)
            if last != transfers - 1 {
              recorder.fail("after a crash the ledger ends at \(last), not at transfer \(transfers - 1): a committed transaction was lost")
            }
          }
        }
      }
    }
    workload.grows = true
    workload.maximumSize = 128 << 10
    workload.invariant = { region in
      // The first commit marks the region as a database.
      guard region.epoch > 0 else { return nil }
      do {
        return try SnapshotVFS.lending(region, as: region.path.string, commit: { region throws(SnapshotError) in
          throw .readOnly(path: region.path.string)
        }) { () throws -> String? in
          try sqlBank.violation(in: SQLiteConnection(path: region.path.string, create: false))
        }
      } catch {
        return "the recovered database: \(error)"
      }
    }
    return workload
  }
}

private let sqlBank = SQLBank(accounts: 8, openingBalance: 1000)

/// The recorder's msync of `region`, its failures as the VFS's error type (the VFS reports them to
/// SQLite). A region the recorder abandoned in a crash cannot commit.
private func recordedMsync(_ recorder: ScenarioRecorder, _ region: Region) throws(SnapshotError) {
  guard region === recorder.region else { throw .closed(path: region.path.string) }
  do {
    try recorder.msync()
  } catch let error as SnapshotError {
    throw error
  } catch {
    recorder.fail("msync: \(error)")
    throw .closed(path: recorder.region.path.string)
  }
}
