/// Why a NATS operation failed.
package enum NATSError: Error, Sendable, Equatable, CustomStringConvertible {
  /// No server in the list accepted a connection.
  case cannotConnect(servers: String, reason: String)
  /// The server sent something this client does not understand.
  case protocolViolation(String)
  /// The server refused an operation (`-ERR`).
  case server(String)
  /// No answer within the time allowed. The operation may or may not have taken effect.
  case timedOut(operation: String, seconds: Double)
  /// Nobody subscribes to the subject a request went to (for JetStream: no such API or stream).
  case noResponders(subject: String)
  /// The connection is closed; what was sent last may or may not have arrived.
  case connectionClosed

  package var description: String {
    switch self {
    case .cannotConnect(let servers, let reason): return "cannot connect to a NATS server (\(servers)): \(reason)"
    case .protocolViolation(let what): return "the NATS server sent \(what)"
    case .server(let message): return "the NATS server refused: \(message)"
    case .timedOut(let operation, let seconds): return "no answer to \(operation) within \(seconds) s"
    case .noResponders(let subject): return "nothing answers on \(subject): is JetStream enabled, and the stream created?"
    case .connectionClosed: return "the connection to the NATS server is closed"
    }
  }
}
