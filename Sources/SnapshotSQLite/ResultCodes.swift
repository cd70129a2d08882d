import CSQLite

/// SQLite's extended result codes, which its header defines by expressions Swift does not import
/// (`SQLITE_IOERR | (n << 8)`).
enum ResultCode {
  static let shortRead = SQLITE_IOERR | (2 << 8)
  static let writeFailed = SQLITE_IOERR | (3 << 8)
  static let syncFailed = SQLITE_IOERR | (4 << 8)
  static let truncateFailed = SQLITE_IOERR | (6 << 8)
  static let unlockFailed = SQLITE_IOERR | (8 << 8)
  static let closeFailed = SQLITE_IOERR | (16 << 8)
}
