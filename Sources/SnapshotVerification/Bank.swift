import Snapshot
import SnapshotKV

/// Money moved between the accounts of a key-value store, one transfer at a time: whatever happens,
/// the balances add up to what the accounts were opened with. The invariant of the bank workloads
/// (the crash simulator's, and replication's failure tests).
package enum Bank {
  package static let accounts = 12
  package static let openingBalance: Int64 = 1000

  /// Opens every account with the opening balance (not committed).
  package static func open(_ store: SnapshotKV) throws(SnapshotError) {
    for account in 0..<accounts { try store.put(key(account), balance(openingBalance)) }
  }

  /// Moves a random amount from one random account to another (not committed).
  @discardableResult
  package static func transfer(
    _ store: SnapshotKV, using generator: inout some RandomNumberGenerator
  ) throws(SnapshotError) -> (amount: Int64, from: Int, to: Int) {
    let from = Int.random(in: 0..<accounts, using: &generator)
    let to = (from + Int.random(in: 1..<accounts, using: &generator)) % accounts
    let amount = Int64.random(in: 1...50, using: &generator)
    try store.put(key(from), balance(balance(amount: try store.get(key(from))!) - amount))
    try store.put(key(to), balance(balance(amount: try store.get(key(to))!) + amount))
    return (amount, from, to)
  }

  /// Nil when the store passes its own checks and the accounts hold the opening total; else what is
  /// wrong.
  package static func audit(_ store: SnapshotKV) -> String? {
    do throws(SnapshotError) {
      try store.check()
      var total: Int64 = 0
      for account in 0..<accounts { total += try store.get(key(account)).map { balance(amount: $0) } ?? 0 }
      return total == Int64(accounts) * openingBalance ? nil : "the accounts hold \(total), not \(Int64(accounts) * openingBalance)"
    } catch {
      return "the store: \(error)"
    }
  }

  private static func key(_ account: Int) -> [UInt8] { Array("account-\(account)".utf8) }
  private static func balance(_ amount: Int64) -> [UInt8] { withUnsafeBytes(of: amount) { Array($0) } }
  private static func balance(amount bytes: [UInt8]) -> Int64 { bytes.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) } }
}
