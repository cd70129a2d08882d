import CSQLite
import Snapshot

/// A SQLite connection to a database kept in a Snapshot region (through ``SnapshotVFS``).
///
/// ```swift
/// let database = try SQLiteConnection(path: "/dev/shm/app.db")
/// try database.execute("CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, text TEXT)")
/// try database.execute("INSERT INTO notes(text) VALUES (?)", ["durable at once"])
/// let rows = try database.rows("SELECT id, text FROM notes")
/// ```
///
/// Each statement outside a transaction commits on its own, as one atomic msync. ``handle`` is the
/// `sqlite3*`, for everything this small API leaves out; GRDB and other SQLite libraries can open the
/// same database by the URI `file:PATH?vfs=snapshot`. A connection is for one thread at a time
/// (SQLite's multi-thread mode): threads that work at once open a connection each, and the VFS's
/// locks order them.
public final class SQLiteConnection {
  /// The `sqlite3*` handle.
  public let handle: OpaquePointer
  /// The database's path.
  public let path: String
  /// The path SQLite gives the VFS: absolute.
  private let absolutePath: String

  /// Opens the database at `path` through the `snapshot` VFS, creating it (a region of 1 MiB that grows
  /// with the file) unless `create` is false. `parameters` become URI parameters: `backing` (`pm` or
  /// `file`) and `maximum` (bytes) for a new region.
  ///
  /// - Throws: ``SQLiteError``, with the reason the region could not be opened when that is why.
  public init(path: String, create: Bool = true, parameters: [String: String] = [:]) throws(SQLiteError) {
    try SnapshotVFS.register()
    let query = (["vfs": SnapshotVFS.name].merging(parameters) { $1 }).sorted { $0.key < $1.key }
      .map { "\($0.key)=\(Self.percentEncoded($0.value))" }.joined(separator: "&")
    let uri = "file:\(Self.percentEncoded(path))?\(query)"
    var handle: OpaquePointer?
    let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX
    let code = sqlite3_open_v2(uri, &handle, flags, nil)
    guard code == SQLITE_OK, let handle else {
      let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
      sqlite3_close_v2(handle)
      throw SQLiteError(code: code, message: SnapshotVFS.openFailure(path: Self.absolute(path)) ?? message)
    }
    self.handle = handle
    self.path = path
    absolutePath = Self.absolute(path)
  }

  deinit { sqlite3_close_v2(handle) }

  /// Runs `sql`, one statement or several, binding `arguments` to the `?` of a single statement.
  public func execute(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) {
    guard arguments.isEmpty else {
      _ = try rows(sql, arguments)
      return
    }
    var message: UnsafeMutablePointer<CChar>?
    let code = sqlite3_exec(handle, sql, nil, nil, &message)
    defer { sqlite3_free(message) }
    guard code == SQLITE_OK else { throw SQLiteError(code: code, message: message.map { String(cString: $0) } ?? errorMessage) }
  }

  /// Runs one statement with `arguments` bound to its `?`, and returns the rows it produced.
  public func rows(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> [[SQLiteValue]] {
    var statement: OpaquePointer?
    try check(sqlite3_prepare_v2(handle, sql, -1, &statement, nil))
    defer { sqlite3_finalize(statement) }
    for (index, argument) in arguments.enumerated() {
      try check(argument.bind(to: statement, at: Int32(index + 1)))
    }
    var rows: [[SQLiteValue]] = []
    while true {
      let code = sqlite3_step(statement)
      if code == SQLITE_DONE { return rows }
      guard code == SQLITE_ROW else { throw SQLiteError(code: code, message: errorMessage) }
      rows.append((0..<sqlite3_column_count(statement)).map { SQLiteValue(statement, column: $0) })
    }
  }

  /// Runs every statement of `script` in turn, handing each row to `row` with its column names; stops
  /// at the first statement that fails.
  public func run(script: String, row: (_ columns: [String], _ values: [SQLiteValue]) -> Void) throws(SQLiteError) {
    // withCString does not pass a typed error through.
    var failure: SQLiteError?
    script.withCString { start in
      do throws(SQLiteError) {
        var next: UnsafePointer<CChar>? = start
        while let current = next, current.pointee != 0 {
          var statement: OpaquePointer?
          try check(sqlite3_prepare_v2(handle, current, -1, &statement, &next))
          guard let statement else { continue }  // only whitespace or a comment was left
          defer { sqlite3_finalize(statement) }
          let columns = (0..<sqlite3_column_count(statement)).map { String(cString: sqlite3_column_name(statement, $0)) }
          while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw SQLiteError(code: code, message: errorMessage) }
            row(columns, columns.indices.map { SQLiteValue(statement, column: Int32($0)) })
          }
        }
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
  }

  /// Whether `sql` ends with a complete statement (SQLite's own test, which knows about quotes,
  /// comments and triggers): what a shell reads before it runs what it has.
  public static func isComplete(_ sql: String) -> Bool { sqlite3_complete(sql) != 0 }

  /// Bytes the database's region wrote to its medium (log batches, checkpoints) since it was opened.
  public var bytesWritten: Int {
    ((try? SnapshotVFS.withOpenRegion(path: absolutePath) { $0.bytesWritten }) ?? nil) ?? 0
  }

  /// Writes the region's log home now (a checkpoint: it happens by itself when the log fills and at
  /// close), so that the time and the writes it takes fall where the caller chooses.
  public func checkpointRegion() throws(SQLiteError) {
    do throws(SnapshotError) {
      _ = try SnapshotVFS.withOpenRegion(path: absolutePath) { region throws(SnapshotError) in try region.checkpoint() }
    } catch {
      throw SQLiteError(code: SQLITE_IOERR, message: error.description)
    }
  }

  private var errorMessage: String { String(cString: sqlite3_errmsg(handle)) }

  private func check(_ code: Int32) throws(SQLiteError) {
    guard code == SQLITE_OK else { throw SQLiteError(code: code, message: errorMessage) }
  }

  private static func percentEncoded(_ text: String) -> String {
    var encoded = ""
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "="), 0..<0x21, 0x7F...:
        encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      default:
        encoded.unicodeScalars.append(Unicode.Scalar(byte))
      }
    }
    return encoded
  }

  /// The absolute path SQLite gives the VFS for `path`.
  private static func absolute(_ path: String) -> String {
    var buffer = [CChar](repeating: 0, count: Int(registration.vfs.pointee.mxPathname) + 1)
    guard registration.vfs.pointee.xFullPathname(registration.vfs, path, Int32(buffer.count), &buffer) == SQLITE_OK else { return path }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// A failure SQLite reported, with its result code and message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
  /// SQLite's (extended) result code.
  public let code: Int32
  /// What went wrong, in SQLite's words or, when a region could not be opened, Snapshot's.
  public let message: String

  /// An error with SQLite's result `code` and `message`.
  public init(code: Int32, message: String) {
    self.code = code
    self.message = message
  }

  /// The code and the message.
  public var description: String { "SQLite error \(code): \(message)" }
}

/// A value SQLite stores or returns.
public enum SQLiteValue: Equatable, Sendable {
  /// NULL.
  case null
  /// A 64-bit integer.
  case integer(Int64)
  /// A double.
  case real(Double)
  /// UTF-8 text.
  case text(String)
  /// Bytes.
  case blob([UInt8])

  init(_ statement: OpaquePointer?, column: Int32) {
    switch sqlite3_column_type(statement, column) {
    case SQLITE_INTEGER: self = .integer(sqlite3_column_int64(statement, column))
    case SQLITE_FLOAT: self = .real(sqlite3_column_double(statement, column))
    case SQLITE_TEXT: self = .text(String(cString: sqlite3_column_text(statement, column)))
    case SQLITE_BLOB:
      let count = Int(sqlite3_column_bytes(statement, column))
      self = .blob(count == 0 ? [] : Array(UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, column), count: count)))
    default: self = .null
    }
  }

  /// SQLite copies what it binds (`SQLITE_TRANSIENT`).
  func bind(to statement: OpaquePointer?, at index: Int32) -> Int32 {
    let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    switch self {
    case .null: return sqlite3_bind_null(statement, index)
    case .integer(let value): return sqlite3_bind_int64(statement, index, value)
    case .real(let value): return sqlite3_bind_double(statement, index, value)
    case .text(let value): return sqlite3_bind_text(statement, index, value, -1, transient)
    case .blob(let value): return value.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), transient) }
    }
  }
}

extension SQLiteValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByNilLiteral {
  /// An integer.
  public init(integerLiteral value: Int64) { self = .integer(value) }
  /// Text.
  public init(stringLiteral value: String) { self = .text(value) }
  /// NULL.
  public init(nilLiteral: ()) { self = .null }
}
