import CKyotoCabinet
import Foundation

/// Kyoto Cabinet's TreeDB with hard transactions: the WAL (before-images) is fsynced per logged
/// region, then the map msynced and the file fsynced, and the WAL truncated.
struct KyotoCabinetBaseline: KeyValueBaseline {
  let name = "Kyoto Cabinet TreeDB (hard transactions)"
  private let database: UnsafeMutablePointer<KCDB>

  init(path: String) throws {
    database = kcdbnew()!
    guard kcdbopen(database, path + ".kct", UInt32(KCOWRITER | KCOCREATE)) != 0 else {
      throw BaselineError(description: "kcdbopen \(path): \(String(cString: kcecodename(kcdbecode(database))))")
    }
  }

  mutating func put(key: UInt64, value: UnsafeRawBufferPointer) throws {
    var key = key
    guard kcdbbegintran(database, 1) != 0 else { throw BaselineError(description: "kcdbbegintran") }
    let stored = withUnsafeBytes(of: &key) { keyBytes in
      kcdbset(
        database, keyBytes.baseAddress!.assumingMemoryBound(to: CChar.self), 8,
        value.baseAddress!.assumingMemoryBound(to: CChar.self), value.count)
    }
    guard stored != 0, kcdbendtran(database, 1) != 0 else { throw BaselineError(description: "kcdbset or kcdbendtran") }
  }

  func close() {
    kcdbclose(database)
    kcdbdel(database)
  }
}
