/// A journal's control word: 48 bits of state sealed with 16 check bits (a CRC32C of the state and the
/// region's salt), so that the word is written with one atomic 8-byte store and a corrupted word is
/// recognised rather than believed.
enum ControlWord {
  static let bodyBits = 48
  static let bodyMask: UInt64 = 1 << 48 - 1

  static func seal(_ body: UInt64, salt: UInt64) -> UInt64 {
    precondition(body & ~bodyMask == 0)
    return body | UInt64(check(body, salt: salt)) << bodyBits
  }

  /// The body of a sealed word, or nil when the check bits do not match.
  static func open(_ word: UInt64, salt: UInt64) -> UInt64? {
    let body = word & bodyMask
    return word == seal(body, salt: salt) ? body : nil
  }

  private static func check(_ body: UInt64, salt: UInt64) -> UInt16 {
    UInt16(truncatingIfNeeded: ~CRC32C.update(CRC32C.update(~0, word: body), word: salt))
  }
}
