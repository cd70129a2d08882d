import SnapshotSQLite

/// The bank the SQL workload and the SQL kill loop run: accounts in an indexed table whose total
/// never changes, and a ledger with an entry per transfer.
struct SQLBank {
  let accounts: Int
  let openingBalance: Int64

  /// The tables and the opening balances, as one transaction, after `pragmas`.
  func create(in database: SQLiteConnection, pragmas: String) throws {
    try database.execute(
      """
      \(pragmas)
      BEGIN;
      CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0));
      CREATE INDEX accounts_by_balance ON accounts(balance);
      CREATE TABLE ledger(id INTEGER PRIMARY KEY, memo TEXT NOT NULL);
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(accounts - 1))
        INSERT INTO accounts SELECT i, \(openingBalance) FROM n;
      COMMIT
      """)
  }

  /// Begins a transaction that moves up to `amount` (never more than the balance) from one account to
  /// another and adds ledger entry `entry` with `padding` characters of memo; the caller commits it.
  func beginTransfer<G: RandomNumberGenerator>(
    in database: SQLiteConnection, entry: Int64, amount: Int64, padding: Int, using generator: inout G
  ) throws {
    let from = Int64.random(in: 0..<Int64(accounts), using: &generator)
    let to = (from + Int64.random(in: 1..<Int64(accounts), using: &generator)) % Int64(accounts)
    try database.execute("BEGIN")
    guard case .integer(let balance) = try database.rows("SELECT balance FROM accounts WHERE id = ?", [.integer(from)]).first?.first else {
      throw SQLiteError(code: 0, message: "account \(from) is missing")
    }
    let moved = min(amount, balance)
    try database.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", [.integer(moved), .integer(from)])
    try database.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", [.integer(moved), .integer(to)])
    try database.execute(
      "INSERT INTO ledger(id, memo) VALUES (?, ?)",
      [.integer(entry), .text("\(moved) from \(from) to \(to) " + String(repeating: "=", count: padding))])
  }

  /// The ledger's last entry (0 when empty).
  func lastEntry(in database: SQLiteConnection) throws -> Int64 {
    guard case .integer(let last) = try database.rows("SELECT coalesce(max(id), 0) FROM ledger").first?.first else {
      throw SQLiteError(code: 0, message: "the ledger cannot be read")
    }
    return last
  }

  /// Why `database` is not a bank a crash may leave, or nil: SQLite's integrity check fails, or the
  /// accounts do not hold their total. A database without the tables yet passes.
  func violation(in database: SQLiteConnection) throws -> String? {
    let integrity = try database.rows("PRAGMA integrity_check")
    guard integrity == [["ok"]] else { return "integrity_check: \(integrity)" }
    guard try database.rows("SELECT count(*) FROM sqlite_master WHERE name = 'accounts'") == [[1]] else { return nil }
    let total = try database.rows("SELECT count(*), sum(balance) FROM accounts")
    let expected: [[SQLiteValue]] = [[.integer(Int64(accounts)), .integer(Int64(accounts) * openingBalance)]]
    return total == expected ? nil : "the accounts hold \(total), not \(expected)"
  }
}
