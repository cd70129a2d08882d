import NIOCore

/// A message as NATS delivers it: subject, reply subject, headers and payload.
package struct NATSMessage: Sendable {
  /// The subject it was published to.
  package var subject: String
  /// Where an answer goes, if the publisher asked for one.
  package var replyTo: String?
  /// The headers, in the order they came; empty for a message published without any.
  package var headers: [(name: String, value: String)]
  /// The status of a message the server made itself (503: no responders; 404 and 408 for a pull
  /// request that found nothing), or nil.
  package var status: Int?
  /// The payload.
  package var payload: ByteBuffer

  package init(
    subject: String, replyTo: String? = nil, headers: [(name: String, value: String)] = [], status: Int? = nil,
    payload: ByteBuffer
  ) {
    self.subject = subject
    self.replyTo = replyTo
    self.headers = headers
    self.status = status
    self.payload = payload
  }

  /// The value of the first header named `name` (case-insensitive, as HTTP's).
  package func header(_ name: String) -> String? {
    let wanted = name.lowercased()
    return headers.first { $0.name.lowercased() == wanted }?.value
  }
}
