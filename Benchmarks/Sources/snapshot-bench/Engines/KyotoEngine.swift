import CKyotoCabinet
import Foundation

/// Kyoto Cabinet's TreeDB with hard transactions: the WAL (before-images) is fsynced per logged region,
/// then the map msynced and the file fsynced, and the WAL truncated. One transaction from the first
/// operation after a commit to the next commit.
final class KyotoEngine: KeyValueEngine {
  private let database: UnsafeMutablePointer<KCDB>
  private var inTransaction = false

  /// `mapSize` is the memory-mapped size (Kyoto's msiz; the default is 64 MiB).
  init(path: String, mapSize: Int) throws {
    database = kcdbnew()!
    guard kcdbopen(database, "\(path).kct#msiz=\(mapSize)", UInt32(KCOWRITER | KCOCREATE | KCOTRUNCATE)) != 0 else {
      throw BaselineError(description: "kcdbopen \(path): \(error)")
    }
  }

  private var error: String { String(cString: kcecodename(kcdbecode(database))) }

  private func begin() throws {
    guard !inTransaction else { return }
    guard kcdbbegintran(database, 1) != 0 else { throw BaselineError(description: "kcdbbegintran: \(error)") }
    inTransaction = true
  }

  private static func chars(_ bytes: UnsafeRawBufferPointer) -> UnsafePointer<CChar> {
    bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
  }

  func read(_ key: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
    try begin()
    let read = kcdbgetbuf(database, Self.chars(key), key.count, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
    return read >= 0
  }

  func insert(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
    try begin()
    guard kcdbset(database, Self.chars(key), key.count, Self.chars(value), value.count) != 0 else {
      throw BaselineError(description: "kcdbset: \(error)")
    }
  }

  /// Kyoto Cabinet has no partial update: the value is read, changed and set back whole.
  func update(_ key: UnsafeRawBufferPointer, at offset: Int, with bytes: UnsafeRawBufferPointer) throws -> Bool {
    try begin()
    var size = 0
    guard let stored = kcdbget(database, Self.chars(key), key.count, &size) else { return false }
    defer { kcfree(stored) }
    UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(stored) + offset, count: bytes.count).copyMemory(from: bytes)
    guard kcdbset(database, Self.chars(key), key.count, stored, size) != 0 else { throw BaselineError(description: "kcdbset: \(error)") }
    return true
  }

  func scan(from key: UnsafeRawBufferPointer, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    try begin()
    let cursor = kcdbcursor(database)!
    defer { kccurdel(cursor) }
    guard kccurjumpkey(cursor, Self.chars(key), key.count) != 0 else { return 0 }
    var copied = 0, offset = 0
    while copied < count {
      var size = 0
      guard let value = kccurgetvalue(cursor, &size, 1) else { break }
      UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + size]).copyMemory(from: UnsafeRawBufferPointer(start: value, count: size))
      kcfree(value)
      offset += size
      copied += 1
    }
    return copied
  }

  func commit() throws {
    guard inTransaction else { return }
    inTransaction = false
    guard kcdbendtran(database, 1) != 0 else { throw BaselineError(description: "kcdbendtran: \(error)") }
  }

  var bytesWritten: Int? { nil }

  func close() {
    if inTransaction { kcdbendtran(database, 0) }
    kcdbclose(database)
    kcdbdel(database)
  }
}
