import CLMDB
import Foundation

/// LMDB with its default (durable) flags: commit writes the dirty pages, fdatasyncs, then writes the
/// meta page.
struct LMDBBaseline: KeyValueBaseline {
  let name = "LMDB (default durable flags)"
  private let environment: OpaquePointer
  private var database: MDB_dbi = 0

  init(directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var environment: OpaquePointer?
    try Self.check(mdb_env_create(&environment), "mdb_env_create")
    self.environment = environment!
    try Self.check(mdb_env_set_mapsize(environment, 256 << 20), "mdb_env_set_mapsize")
    try Self.check(mdb_env_open(environment, directory, 0, 0o644), "mdb_env_open")
    var transaction: OpaquePointer?
    try Self.check(mdb_txn_begin(environment, nil, 0, &transaction), "mdb_txn_begin")
    try Self.check(mdb_dbi_open(transaction, nil, 0, &database), "mdb_dbi_open")
    try Self.check(mdb_txn_commit(transaction), "mdb_txn_commit")
  }

  mutating func put(key: UInt64, value: UnsafeRawBufferPointer) throws {
    var transaction: OpaquePointer?
    try Self.check(mdb_txn_begin(environment, nil, 0, &transaction), "mdb_txn_begin")
    var key = key
    try withUnsafeMutableBytes(of: &key) { keyBytes in
      var keyValue = MDB_val(mv_size: 8, mv_data: keyBytes.baseAddress)
      var dataValue = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
      try Self.check(mdb_put(transaction, database, &keyValue, &dataValue, 0), "mdb_put")
    }
    try Self.check(mdb_txn_commit(transaction), "mdb_txn_commit")
  }

  func close() {
    mdb_env_close(environment)
  }

  private static func check(_ result: Int32, _ call: String) throws {
    guard result == 0 else { throw BaselineError(description: "\(call): \(String(cString: mdb_strerror(result)))") }
  }
}
