import Foundation
import NIOCore

/// A region's replicated log: the JetStream stream its commits and its primaries' claims go to, over
/// a connection that moves to another server when its own fails.
final class ReplicatedLog {
  let options: ReplicationOptions
  let servers: [NATSServer]
  private(set) var jetStream: JetStream

  var stream: String { options.stream }
  var commitSubject: String { "\(options.stream).commit" }
  var claimSubject: String { "\(options.stream).primary" }
  /// The largest record a message may carry, leaving room for the headers.
  var maximumRecordSize: Int { max(jetStream.connection.maximumPayload - 1024, 4096) }

  /// Connects and creates the stream if it is missing.
  init(options: ReplicationOptions) throws(ReplicationError) {
    self.options = options
    var servers: [NATSServer] = []
    for text in options.servers {
      guard let server = NATSServer(text) else { throw .unreachable(stream: options.stream, reason: "not a server address: \(text)") }
      servers.append(server)
    }
    self.servers = servers
    do {
      jetStream = JetStream(connection: try NATSConnection.connect(to: servers, timeout: options.timeout), timeout: options.answerTimeout)
    } catch {
      throw .unreachable(stream: options.stream, reason: error.description)
    }
    _ = try retrying { () throws(JetStreamError) in
      try jetStream.createStream(.init(name: options.stream, subjects: ["\(options.stream).>"], replicas: options.replicas))
    }
  }

  deinit { jetStream.connection.close() }

  /// The stream's sequence range.
  func state() throws(ReplicationError) -> JetStream.StreamState {
    try retrying { () throws(JetStreamError) in
      guard let state = try jetStream.streamState(stream) else {
        throw .api(code: 404, errorCode: JetStreamError.streamNotFoundCode, description: "stream \(stream) not found")
      }
      return state
    }
  }

  /// Publishes a message, expecting the stream to end at `expectedLastSequence`, and returns its
  /// sequence. A publish whose answer is lost is sent again, with the same id, through another server
  /// when needed, until the options' timeout: the stream stores it once.
  func publish(
    _ bytes: [UInt8], to subject: String, headers: [(name: String, value: String)], messageID: String, expectedLastSequence: UInt64?
  ) throws(JetStreamError) -> UInt64 {
    let deadline = Date(timeIntervalSinceNow: options.timeout)
    while true {
      do throws(JetStreamError) {
        return try jetStream.publish(
          ByteBuffer(bytes: bytes), to: subject, headers: headers, messageID: messageID, expectedLastSequence: expectedLastSequence
        ).sequence
      } catch {
        guard error.isTransient, Date() < deadline else { throw error }
        if case .nats = error { reconnect(until: deadline) } else { Thread.sleep(forTimeInterval: 0.1) }
      }
    }
  }

  /// The last primary's claim: its node name and the claim's sequence.
  func lastClaim() throws(ReplicationError) -> (node: String, sequence: UInt64)? {
    try retrying { () throws(JetStreamError) in
      guard let message = try jetStream.lastMessage(in: stream, on: claimSubject) else { return nil }
      return (String(decoding: message.payload, as: UTF8.self), message.sequence)
    }
  }

  /// The commit number a message of the stream belongs to (a claim carries the epoch its primary
  /// started from), or nil when the stream has no message at `sequence`.
  func epoch(at sequence: UInt64) throws(ReplicationError) -> UInt64? {
    try retrying { () throws(JetStreamError) in
      guard let message = try jetStream.message(in: stream, at: sequence) else { return nil }
      guard let epoch = message.header(Self.epochHeader).flatMap(UInt64.init) else {
        throw .malformedResponse("message \(sequence) of \(stream) has no \(Self.epochHeader) header")
      }
      return epoch
    }
  }

  static let epochHeader = "Snapshot-Epoch"

  /// The first sequence whose message belongs to a commit after `epoch`, by binary search (epochs
  /// never decrease along the stream); nil when there is none yet.
  func firstSequence(after epoch: UInt64, in state: JetStream.StreamState) throws(ReplicationError) -> UInt64? {
    guard state.messages > 0 else { return nil }
    var low = state.firstSequence
    var high = state.lastSequence + 1
    while low < high {
      let middle = low + (high - low) / 2
      if let found = try self.epoch(at: middle), found <= epoch { low = middle + 1 } else { high = middle }
    }
    return low <= state.lastSequence ? low : nil
  }

  /// Reads the stream in order from `sequence`, handing each commit message to `body`, until the
  /// message at `end` has been read, or, without an end, until `keepGoing` says to stop (asked at
  /// least every `wait` seconds). Returns the sequence after the last message read.
  ///
  /// Only messages the stream's state holds are handed on. A consumer reads the store of one server,
  /// and right after the cluster restarts a server may deliver a message it stored before the crash
  /// that the cluster then drops (a publish in flight): a replica that applied it would hold a commit
  /// the stream does not. Messages beyond the state's end wait until a newer state holds them.
  func read(
    from sequence: UInt64, through end: UInt64?, wait: Double = 1, keepGoing: () -> Bool = { true },
    _ body: (UInt64, [UInt8]) throws(ReplicationError) -> Void
  ) throws(ReplicationError) -> UInt64 {
    var next = sequence
    var held = end ?? 0
    var consumer: JetStream.PullConsumer?
    func dropConsumer() {
      if let old = consumer { jetStream.remove(old) }
      consumer = nil
    }
    defer { dropConsumer() }
    var lastProgress = Date()
    while end.map({ next <= $0 }) ?? keepGoing() {
      let messages = try retrying { () throws(JetStreamError) in
        do throws(JetStreamError) {
          if consumer == nil { consumer = try jetStream.createPullConsumer(on: stream, from: next) }
          return try jetStream.fetch(from: consumer!, batch: 256, wait: wait)
        } catch {
          // A new consumer from where reading stopped: after a lost connection, or a consumer the
          // server dropped (its node failed).
          dropConsumer()
          if case .api = error { return [] }
          throw error
        }
      }
      if end == nil, let last = messages.last?.sequence, last > held { held = try state().lastSequence }
      var delivered = false
      for (sequence, message) in messages where sequence >= next {
        guard sequence <= held else {
          // Not in the stream's state (yet): read again from here, with a new consumer.
          dropConsumer()
          break
        }
        next = sequence + 1
        delivered = true
        lastProgress = Date()
        if message.subject == commitSubject { try body(sequence, Array(message.payload.readableBytesView)) }
      }
      guard !delivered else { continue }
      if consumer == nil, !messages.isEmpty { Thread.sleep(forTimeInterval: min(wait, 0.05)) }
      guard let end else { continue }
      // The stream holds the message, yet the consumer delivers nothing: its server may have lost
      // its place (a node restarted); a new consumer starts afresh, and a stream that delivers
      // nothing within the timeout is an error, not a hang.
      let stalled = Date().timeIntervalSince(lastProgress)
      if stalled > options.timeout {
        throw .unreachable(stream: stream, reason: "message \(next) of \(end) was not delivered within \(options.timeout) s")
      }
      if stalled > 2 * wait { dropConsumer() }
    }
    return next
  }

  /// Runs `operation`, reconnecting and trying again while the failure is the connection's, until
  /// the options' timeout.
  func retrying<Result>(_ operation: () throws(JetStreamError) -> Result) throws(ReplicationError) -> Result {
    let deadline = Date(timeIntervalSinceNow: options.timeout)
    while true {
      do throws(JetStreamError) {
        return try operation()
      } catch where error.isTransient && Date() < deadline {
        if case .nats = error { reconnect(until: deadline) } else { Thread.sleep(forTimeInterval: 0.1) }
      } catch {
        throw ReplicationError(error, stream: stream)
      }
    }
  }

  /// Replaces the connection by one to the first server that answers, trying until `deadline`.
  func reconnect(until deadline: Date) {
    jetStream.connection.close()
    while Date() < deadline {
      if let connection = try? NATSConnection.connect(to: servers, timeout: min(2, options.timeout)) {
        jetStream = JetStream(connection: connection, timeout: options.answerTimeout)
        return
      }
      Thread.sleep(forTimeInterval: 0.1)
    }
  }
}
