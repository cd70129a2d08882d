import Snapshot
import SnapshotSQLite
import SystemPackage

/// The kill loop's SQL subject: the child runs bank transfers through the snapshot VFS, each a
/// transaction that adds a numbered entry to a ledger, and announces each COMMIT before and after; after
/// each kill the parent opens the database and checks it.
package enum SQLKillSubject {
  static let bank = SQLBank(accounts: 16, openingBalance: 1000)

  /// The bank, with an empty ledger, at `path`.
  static func create(at path: FilePath, backing: Region.Backing) throws {
    let database = try SQLiteConnection(path: path.string, parameters: ["backing": backing == .file ? "file" : "pm"])
    try bank.create(in: database, pragmas: "PRAGMA auto_vacuum = FULL;")
  }

  /// The child's loop: transfer after transfer, each announced before and after its COMMIT. Memos of
  /// up to a few pages grow the file, and every 32nd transfer deletes the ledger's older entries, which
  /// shrinks it again.
  package static func work(path: FilePath, seed: UInt64, announce: (String) -> Void) throws {
    let database = try SQLiteConnection(path: path.string, create: false)
    var last = try bank.lastEntry(in: database)
    var generator = SeededGenerator(seed: seed ^ UInt64(last))
    while true {
      let next = last + 1
      let amount = Int64.random(in: 1...100, using: &generator)
      try bank.beginTransfer(in: database, entry: next, amount: amount, padding: Int.random(in: 0...6_000, using: &generator), using: &generator)
      if next % 32 == 0 { try database.execute("DELETE FROM ledger WHERE id <= ?", [.integer(next - 16)]) }
      announce("begin \(next)")
      try database.execute("COMMIT")
      announce("acknowledged \(next)")
      last = next
    }
  }

  /// Why the database at `path` is not what a kill may leave, or nil: it must be an intact bank whose
  /// ledger ends at the last transfer acknowledged or, when the child died inside COMMIT, the one it
  /// began.
  static func check(path: FilePath, acknowledged: UInt64, begun: UInt64) -> String? {
    do {
      let database = try SQLiteConnection(path: path.string, create: false)
      if let violation = try bank.violation(in: database) { return violation }
      let last = UInt64(try bank.lastEntry(in: database))
      if last != acknowledged, !(begun > acknowledged && last == begun) {
        return "the ledger ends at transfer \(last); acknowledged \(acknowledged), in flight \(begun > acknowledged ? "\(begun)" : "none")"
      }
      return nil
    } catch {
      return "opening the database failed: \(error)"
    }
  }
}
