import Snapshot
import SnapshotSQLite
import SystemPackage

/// The kill loop's SQL subject: the child runs bank transfers through the snapshot VFS, each a
/// transaction that adds a numbered entry to a ledger, and announces each COMMIT before and after; after
/// each kill the parent opens the database and checks it.
package enum SQLKillSubject {
  static let accounts = 16
  static let openingBalance: Int64 = 1000

  /// A database of `accounts` accounts and an empty ledger at `path`.
  static func create(at path: FilePath, backing: Region.Backing) throws {
    let database = try SQLiteConnection(path: path.string, parameters: ["backing": backing == .file ? "file" : "pm"])
    try database.execute(
      """
      PRAGMA auto_vacuum = FULL;
      BEGIN;
      CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0));
      CREATE INDEX accounts_by_balance ON accounts(balance);
      CREATE TABLE ledger(id INTEGER PRIMARY KEY, memo TEXT NOT NULL);
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(accounts - 1))
        INSERT INTO accounts SELECT i, \(openingBalance) FROM n;
      COMMIT
      """)
  }

  /// The child's loop: transfer after transfer, each announced before and after its COMMIT. Memos of
  /// up to a few pages grow the file, and every 32nd transfer deletes the ledger's older half, which
  /// shrinks it again.
  package static func work(path: FilePath, seed: UInt64, announce: (String) -> Void) throws {
    let database = try SQLiteConnection(path: path.string, create: false)
    guard case .integer(var last) = try database.rows("SELECT coalesce(max(id), 0) FROM ledger").first?.first else {
      throw SQLiteError(code: 0, message: "no ledger")
    }
    var generator = SeededGenerator(seed: seed ^ UInt64(last))
    while true {
      let next = last + 1
      let from = Int64.random(in: 0..<Int64(accounts), using: &generator)
      let to = (from + Int64.random(in: 1..<Int64(accounts), using: &generator)) % Int64(accounts)
      try database.execute("BEGIN")
      guard case .integer(let balance) = try database.rows("SELECT balance FROM accounts WHERE id = ?", [.integer(from)]).first?.first else {
        throw SQLiteError(code: 0, message: "account \(from) is missing")
      }
      let amount = min(balance, Int64.random(in: 1...100, using: &generator))
      try database.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", [.integer(amount), .integer(from)])
      try database.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", [.integer(amount), .integer(to)])
      let memo = "\(amount) from \(from) to \(to) " + String(repeating: "=", count: Int.random(in: 0...6_000, using: &generator))
      try database.execute("INSERT INTO ledger(id, memo) VALUES (?, ?)", [.integer(next), .text(memo)])
      if next % 32 == 0 { try database.execute("DELETE FROM ledger WHERE id <= ?", [.integer(next - 16)]) }
      announce("begin \(next)")
      try database.execute("COMMIT")
      announce("acknowledged \(next)")
      last = next
    }
  }

  /// Why the database at `path` is not what a kill may leave, or nil: it must pass SQLite's integrity
  /// check, hold the accounts' total, and end its ledger at the last transfer acknowledged or, when the
  /// child died inside COMMIT, the one it began.
  static func check(path: FilePath, acknowledged: UInt64, begun: UInt64) -> String? {
    do {
      let database = try SQLiteConnection(path: path.string, create: false)
      let integrity = try database.rows("PRAGMA integrity_check")
      guard integrity == [["ok"]] else { return "integrity_check: \(integrity)" }
      let total = try database.rows("SELECT count(*), sum(balance) FROM accounts")
      let expected: [[SQLiteValue]] = [[.integer(Int64(accounts)), .integer(Int64(accounts) * openingBalance)]]
      guard total == expected else { return "the accounts hold \(total), not \(expected)" }
      guard case .integer(let last) = try database.rows("SELECT coalesce(max(id), 0) FROM ledger").first?.first else {
        return "the ledger cannot be read"
      }
      if UInt64(last) != acknowledged, !(begun > acknowledged && UInt64(last) == begun) {
        return "the ledger ends at transfer \(last); acknowledged \(acknowledged), in flight \(begun > acknowledged ? "\(begun)" : "none")"
      }
      return nil
    } catch {
      return "opening the database failed: \(error)"
    }
  }
}
