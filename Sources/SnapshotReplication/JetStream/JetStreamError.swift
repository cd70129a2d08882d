/// Why a JetStream operation failed.
package enum JetStreamError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The connection failed or timed out; the operation may or may not have taken effect.
  case nats(NATSError)
  /// The JetStream API refused, with its own codes (https://docs.nats.io/reference/reference-protocols/nats_api_reference).
  case api(code: Int, errorCode: Int, description: String)
  /// A publish that expected the stream to end at one sequence found it ending at another: someone
  /// else published since (the fencing that keeps a deposed primary out).
  case wrongLastSequence(expected: UInt64, description: String)
  /// An answer that is not the JSON the API documents.
  case malformedResponse(String)

  package var description: String {
    switch self {
    case .nats(let error): return error.description
    case .api(let code, let errorCode, let description): return "JetStream refused (\(code), \(errorCode)): \(description)"
    case .wrongLastSequence(let expected, let description):
      return "the stream no longer ends at sequence \(expected) (\(description)): another primary has published"
    case .malformedResponse(let text): return "JetStream answered something unexpected: \(text.prefix(200))"
    }
  }

  /// Whether trying again may succeed: the connection failed, or the cluster is electing a leader
  /// (JetStream answers 503 meanwhile).
  var isTransient: Bool {
    switch self {
    case .nats: return true
    case .api(let code, _, _): return code == 503
    case .wrongLastSequence, .malformedResponse: return false
    }
  }

  /// JetStream's error codes this code acts on.
  static let wrongLastSequenceCode = 10071
  static let streamNotFoundCode = 10059
  static let messageNotFoundCode = 10037
}
