import Foundation
import NIOCore

/// The parts of the JetStream API (JSON requests on `$JS.API.…` subjects) that replication uses:
/// streams, publishing with an acknowledgement, reading a stored message, and pull consumers.
package struct JetStream: Sendable {
  package let connection: NATSConnection
  /// Seconds to wait for each answer.
  package var timeout: Double

  package init(connection: NATSConnection, timeout: Double = 5) {
    self.connection = connection
    self.timeout = timeout
  }

  /// A stream's message count and sequence range.
  package struct StreamState: Decodable, Sendable, Equatable {
    package var messages: UInt64
    package var firstSequence: UInt64
    package var lastSequence: UInt64

    enum CodingKeys: String, CodingKey {
      case messages
      case firstSequence = "first_seq"
      case lastSequence = "last_seq"
    }
  }

  /// How a stream is made.
  package struct StreamConfiguration: Sendable {
    package var name: String
    package var subjects: [String]
    /// Servers holding a copy; a publish is acknowledged once a majority of them stored it.
    package var replicas: Int
    /// How long a message id is remembered, so that a publish retried with it is stored once.
    package var duplicateWindow: Double

    package init(name: String, subjects: [String], replicas: Int, duplicateWindow: Double = 120) {
      self.name = name
      self.subjects = subjects
      self.replicas = replicas
      self.duplicateWindow = duplicateWindow
    }

    var json: [String: Any] {
      [
        "name": name, "subjects": subjects, "num_replicas": replicas, "storage": "file", "retention": "limits",
        "discard": "old", "duplicate_window": Int64(duplicateWindow * 1e9), "allow_direct": false,
      ]
    }
  }

  /// Creates the stream, or finds it when it exists with the same configuration.
  @discardableResult
  package func createStream(_ configuration: StreamConfiguration) throws(JetStreamError) -> StreamState {
    struct Created: Decodable { var state: StreamState }
    let answer: Created = try call("$JS.API.STREAM.CREATE.\(configuration.name)", configuration.json)
    return answer.state
  }

  /// The stream's state, or nil when there is no such stream.
  package func streamState(_ name: String) throws(JetStreamError) -> StreamState? {
    struct Info: Decodable { var state: StreamState }
    do throws(JetStreamError) {
      let info: Info = try call("$JS.API.STREAM.INFO.\(name)", [:])
      return info.state
    } catch .api(_, JetStreamError.streamNotFoundCode, _) {
      return nil
    }
  }

  /// Deletes the stream and everything in it.
  package func deleteStream(_ name: String) throws(JetStreamError) {
    struct Deleted: Decodable { var success: Bool }
    let _: Deleted = try call("$JS.API.STREAM.DELETE.\(name)", [:])
  }

  /// What the stream answers a publish with.
  package struct PublishAck: Decodable, Sendable, Equatable {
    package var stream: String
    /// The message's sequence in the stream.
    package var sequence: UInt64
    /// The message id was seen within the duplicate window: the message was stored before, at `sequence`.
    package var duplicate: Bool

    enum CodingKeys: String, CodingKey {
      case stream
      case sequence = "seq"
      case duplicate
    }

    package init(from decoder: any Decoder) throws {
      let values = try decoder.container(keyedBy: CodingKeys.self)
      stream = try values.decode(String.self, forKey: .stream)
      sequence = try values.decode(UInt64.self, forKey: .sequence)
      duplicate = try values.decodeIfPresent(Bool.self, forKey: .duplicate) ?? false
    }
  }

  /// Publishes `payload` to `subject` and waits until the stream has stored it (on a majority of its
  /// replicas).
  ///
  /// - Parameters:
  ///   - messageID: The stream stores a message with the same id once within its duplicate window, so
  ///     that a publish retried after a lost answer is not stored twice.
  ///   - expectedLastSequence: The stream refuses the message unless its last message has this
  ///     sequence (``JetStreamError/wrongLastSequence(expected:description:)``).
  package func publish(
    _ payload: ByteBuffer, to subject: String, headers: [(name: String, value: String)] = [], messageID: String? = nil,
    expectedLastSequence: UInt64? = nil
  ) throws(JetStreamError) -> PublishAck {
    var all = headers
    if let messageID { all.append(("Nats-Msg-Id", messageID)) }
    if let expectedLastSequence { all.append(("Nats-Expected-Last-Sequence", String(expectedLastSequence))) }
    let answer: NATSMessage
    do {
      answer = try connection.request(payload, to: subject, headers: all, timeout: timeout)
    } catch {
      throw .nats(error)
    }
    do throws(JetStreamError) {
      return try Self.decode(PublishAck.self, from: answer)
    } catch .api(_, JetStreamError.wrongLastSequenceCode, let description) {
      throw .wrongLastSequence(expected: expectedLastSequence ?? 0, description: description)
    }
  }

  /// A message as the stream stored it.
  package struct StoredMessage: Sendable {
    package var subject: String
    package var sequence: UInt64
    package var headers: [(name: String, value: String)]
    package var payload: [UInt8]

    package func header(_ name: String) -> String? {
      NATSMessage(subject: subject, headers: headers, payload: ByteBuffer()).header(name)
    }
  }

  /// The message at `sequence`, or nil when the stream has none there.
  package func message(in stream: String, at sequence: UInt64) throws(JetStreamError) -> StoredMessage? {
    try storedMessage(in: stream, ["seq": sequence])
  }

  /// The last message on `subject`, or nil when there is none.
  package func lastMessage(in stream: String, on subject: String) throws(JetStreamError) -> StoredMessage? {
    try storedMessage(in: stream, ["last_by_subj": subject])
  }

  private func storedMessage(in stream: String, _ request: [String: Any]) throws(JetStreamError) -> StoredMessage? {
    struct Got: Decodable {
      struct Message: Decodable {
        var subject: String
        var seq: UInt64
        var hdrs: String?
        var data: String?
      }
      var message: Message
    }
    do throws(JetStreamError) {
      let got: Got = try call("$JS.API.STREAM.MSG.GET.\(stream)", request)
      guard let payload = Data(base64Encoded: got.message.data ?? ""),
        let headerBytes = Data(base64Encoded: got.message.hdrs ?? "")
      else { throw .malformedResponse("a stored message that is not base64") }
      let headers = ServerOperationDecoder.parseHeaders(String(decoding: headerBytes, as: UTF8.self)).headers
      return StoredMessage(subject: got.message.subject, sequence: got.message.seq, headers: headers, payload: [UInt8](payload))
    } catch .api(_, JetStreamError.messageNotFoundCode, _) {
      return nil
    }
  }

  /// An ephemeral pull consumer, and the subscription its messages arrive on.
  package struct PullConsumer: Sendable {
    package var stream: String
    package var name: String
    let subscription: NATSSubscription
  }

  /// Creates an ephemeral pull consumer that reads the stream from `sequence` on, in order, without
  /// acknowledgements; the server forgets it after `inactiveThreshold` seconds without a fetch.
  package func createPullConsumer(
    on stream: String, from sequence: UInt64, inactiveThreshold: Double = 60
  ) throws(JetStreamError) -> PullConsumer {
    struct Created: Decodable { var name: String }
    let config: [String: Any] = [
      "deliver_policy": "by_start_sequence", "opt_start_seq": sequence, "ack_policy": "none", "replay_policy": "instant",
      "inactive_threshold": Int64(inactiveThreshold * 1e9), "mem_storage": true, "num_replicas": 1,
    ]
    let created: Created = try call("$JS.API.CONSUMER.CREATE.\(stream)", ["stream_name": stream, "config": config])
    do {
      // Messages come with their stream subject, not the request's reply subject: only a
      // subscription of their own tells them apart.
      let subscription = try connection.subscribe(connection.makeInboxSubject(), timeout: timeout)
      return PullConsumer(stream: stream, name: created.name, subscription: subscription)
    } catch {
      throw .nats(error)
    }
  }

  /// Ends the consumer's subscription (the server forgets the consumer by itself).
  package func remove(_ consumer: PullConsumer) {
    connection.unsubscribe(consumer.subscription)
  }

  /// Up to `batch` messages from a pull consumer, with their stream sequences: those there now, or,
  /// when there are none, the first to arrive within `wait` seconds (none if none do).
  package func fetch(
    from consumer: PullConsumer, batch: Int, wait: Double
  ) throws(JetStreamError) -> [(sequence: UInt64, message: NATSMessage)] {
    // A pull request waits until its whole batch is there; so take what is there without waiting,
    // and only when that is nothing, wait for one.
    let present = try pull(from: consumer, #"{"batch":\#(batch),"no_wait":true}"#, limit: batch, wait: 0)
    guard present.isEmpty, wait > 0 else { return present }
    return try pull(from: consumer, #"{"batch":1,"expires":\#(Int64(wait * 1e9))}"#, limit: 1, wait: wait)
  }

  private func pull(
    from consumer: PullConsumer, _ request: String, limit: Int, wait: Double
  ) throws(JetStreamError) -> [(sequence: UInt64, message: NATSMessage)] {
    let queue = consumer.subscription.queue
    connection.publish(
      ByteBuffer(string: request), to: "$JS.API.CONSUMER.MSG.NEXT.\(consumer.stream).\(consumer.name)",
      replyTo: consumer.subscription.subject)
    var messages: [(sequence: UInt64, message: NATSMessage)] = []
    let deadline = Date(timeIntervalSinceNow: wait + timeout)
    while messages.count < limit {
      let next: NATSMessage?
      do {
        next = try queue.next(until: deadline)
      } catch {
        throw .nats(error)
      }
      guard let message = next else { throw .nats(.timedOut(operation: "a fetch from consumer \(consumer.name)", seconds: wait + timeout)) }
      if let status = message.status {
        // 404: nothing there; 408: the wait expired. Anything else (409: the consumer is gone, or
        // its leader changed) is an error for the caller to recreate the consumer.
        guard status == 404 || status == 408 else {
          throw .api(code: status, errorCode: 0, description: message.header("Description") ?? "pull request ended with status \(status)")
        }
        break
      }
      guard let sequence = Self.streamSequence(ofReply: message.replyTo) else {
        throw .malformedResponse("a consumer message without its stream sequence: \(message.replyTo ?? "no reply subject")")
      }
      messages.append((sequence, message))
    }
    return messages
  }

  /// The stream sequence a consumer's message carries in its reply subject:
  /// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`, or the
  /// newer form with a domain and an account hash after `ACK` (and a token at the end).
  static func streamSequence(ofReply reply: String?) -> UInt64? {
    guard let tokens = reply?.split(separator: "."), tokens.count >= 9, tokens[0] == "$JS", tokens[1] == "ACK" else { return nil }
    return UInt64(tokens[tokens.count >= 11 ? 7 : 5])
  }

  /// Sends a JSON request to the API and decodes the answer, or its error.
  private func call<Answer: Decodable>(_ subject: String, _ request: [String: Any]) throws(JetStreamError) -> Answer {
    let body: Data
    do {
      body = try JSONSerialization.data(withJSONObject: request)
    } catch {
      throw .malformedResponse("a request that is not JSON: \(error)")
    }
    let answer: NATSMessage
    do {
      answer = try connection.request(ByteBuffer(bytes: body), to: subject, timeout: timeout)
    } catch {
      throw .nats(error)
    }
    return try Self.decode(Answer.self, from: answer)
  }

  static func decode<Answer: Decodable>(_ type: Answer.Type, from message: NATSMessage) throws(JetStreamError) -> Answer {
    let bytes = Data(message.payload.readableBytesView)
    if let failure = try? JSONDecoder().decode(APIFailure.self, from: bytes), let error = failure.error {
      throw .api(code: error.code, errorCode: error.err_code ?? 0, description: error.description ?? "")
    }
    do {
      return try JSONDecoder().decode(Answer.self, from: bytes)
    } catch {
      throw .malformedResponse(String(decoding: bytes, as: UTF8.self))
    }
  }
}

/// The error object every JetStream API answer may carry instead of its result.
private struct APIFailure: Decodable {
  struct Detail: Decodable {
    var code: Int
    var err_code: Int?
    var description: String?
  }
  var error: Detail?
}
