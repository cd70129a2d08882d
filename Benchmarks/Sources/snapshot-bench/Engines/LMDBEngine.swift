import CLMDB
import Foundation

/// LMDB with its default, durable flags: a copy-on-write B+tree; commit writes the dirty pages,
/// fdatasyncs, then writes the meta page. One write transaction from the first operation after a commit
/// to the next commit.
final class LMDBEngine: KeyValueEngine {
  private let environment: OpaquePointer
  private var database: MDB_dbi = 0
  private var transaction: OpaquePointer?

  init(directory: String, mapSize: Int) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var environment: OpaquePointer?
    try Self.check(mdb_env_create(&environment), "mdb_env_create")
    self.environment = environment!
    try Self.check(mdb_env_set_mapsize(environment, mapSize), "mdb_env_set_mapsize")
    try Self.check(mdb_env_open(environment, directory, 0, 0o644), "mdb_env_open")
    try Self.check(mdb_dbi_open(try open(), nil, 0, &database), "mdb_dbi_open")
    try commit()
  }

  /// The open write transaction, begun if there is none.
  private func open() throws -> OpaquePointer {
    if let transaction { return transaction }
    var begun: OpaquePointer?
    try Self.check(mdb_txn_begin(environment, nil, 0, &begun), "mdb_txn_begin")
    transaction = begun
    return begun!
  }

  private static func value(_ bytes: UnsafeRawBufferPointer) -> MDB_val {
    MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
  }

  func read(_ key: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
    var keyValue = Self.value(key), data = MDB_val()
    let result = mdb_get(try open(), database, &keyValue, &data)
    if result == MDB_NOTFOUND { return false }
    try Self.check(result, "mdb_get")
    buffer.copyMemory(from: UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
    return true
  }

  func insert(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
    var keyValue = Self.value(key), data = Self.value(value)
    try Self.check(mdb_put(try open(), database, &keyValue, &data, 0), "mdb_put")
  }

  /// LMDB has no partial update: the value is read, changed and put back whole.
  func update(_ key: UnsafeRawBufferPointer, at offset: Int, with bytes: UnsafeRawBufferPointer) throws -> Bool {
    var keyValue = Self.value(key), data = MDB_val()
    let result = mdb_get(try open(), database, &keyValue, &data)
    if result == MDB_NOTFOUND { return false }
    try Self.check(result, "mdb_get")
    var changed = [UInt8](UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
    changed.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[offset..<offset + bytes.count]).copyMemory(from: bytes) }
    try changed.withUnsafeBytes { try insert(key, $0) }
    return true
  }

  func scan(from key: UnsafeRawBufferPointer, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    var cursor: OpaquePointer?
    try Self.check(mdb_cursor_open(try open(), database, &cursor), "mdb_cursor_open")
    defer { mdb_cursor_close(cursor) }
    var keyValue = Self.value(key), data = MDB_val()
    var result = mdb_cursor_get(cursor, &keyValue, &data, MDB_SET_RANGE)
    var copied = 0, offset = 0
    while result == 0, copied < count {
      UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + data.mv_size])
        .copyMemory(from: UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
      offset += data.mv_size
      copied += 1
      result = mdb_cursor_get(cursor, &keyValue, &data, MDB_NEXT)
    }
    guard result == 0 || result == MDB_NOTFOUND else { try Self.check(result, "mdb_cursor_get"); return copied }
    return copied
  }

  func commit() throws {
    guard let transaction else { return }
    self.transaction = nil
    try Self.check(mdb_txn_commit(transaction), "mdb_txn_commit")
  }

  var bytesWritten: Int? { nil }

  func close() {
    if let transaction { mdb_txn_abort(transaction) }
    mdb_env_close(environment)
  }

  private static func check(_ result: Int32, _ call: String) throws {
    guard result == 0 else { throw BaselineError(description: "\(call): \(String(cString: mdb_strerror(result)))") }
  }
}
