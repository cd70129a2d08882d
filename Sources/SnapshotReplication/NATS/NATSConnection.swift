import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A NATS server's address: `host:port`, or `nats://host:port`.
package struct NATSServer: Sendable, Hashable, CustomStringConvertible {
  package var host: String
  package var port: Int

  package init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Parses `nats://host:port`, `host:port` or `host` (port 4222).
  package init?(_ text: String) {
    var rest = Substring(text)
    if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
    if let colon = rest.lastIndex(of: ":") {
      guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
      self.init(host: String(rest[..<colon]), port: port)
    } else {
      self.init(host: String(rest), port: 4222)
    }
    if host.isEmpty { return nil }
  }

  package var description: String { "\(host):\(port)" }
}

/// A connection to one NATS server: publish, subscribe, request and reply, with headers.
///
/// The smallest client the replication needs, written to the protocol's text
/// (https://docs.nats.io/reference/reference-protocols/nats-protocol): `CONNECT` with headers,
/// `PUB`/`HPUB`, `SUB`/`UNSUB`, `MSG`/`HMSG`, `PING`/`PONG`. It does not reconnect by itself: a caller
/// that loses the connection opens a new one, to the same server or another. Calls block the calling
/// thread (never call them on the event loop); they are safe from any thread.
package final class NATSConnection: Sendable {
  /// The server this connection reached.
  package let server: NATSServer
  /// The largest message payload the server accepts, from its `INFO`.
  package let maximumPayload: Int
  let channel: any Channel
  let routes: MessageRoutes
  let handler: NIOLoopBound<NATSClientHandler>

  private init(
    server: NATSServer, maximumPayload: Int, channel: any Channel, routes: MessageRoutes, handler: NIOLoopBound<NATSClientHandler>
  ) {
    self.server = server
    self.maximumPayload = maximumPayload
    self.channel = channel
    self.routes = routes
    self.handler = handler
  }

  /// Connects to the first of `servers` that answers within `timeout` seconds.
  package static func connect(to servers: [NATSServer], timeout: Double = 5) throws(NATSError) -> NATSConnection {
    var reasons: [String] = []
    for server in servers {
      do throws(NATSError) {
        return try connect(to: server, timeout: timeout)
      } catch {
        reasons.append("\(server): \(error)")
      }
    }
    throw .cannotConnect(
      servers: servers.map(\.description).joined(separator: ", "),
      reason: reasons.isEmpty ? "no server given" : reasons.joined(separator: "; "))
  }

  private static func connect(to server: NATSServer, timeout: Double) throws(NATSError) -> NATSConnection {
    let routes = MessageRoutes()
    let channel: any Channel
    do {
      channel = try ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connectTimeout(.milliseconds(Int64(timeout * 1000)))
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ServerOperationDecoder()))
            try channel.pipeline.syncOperations.addHandler(NATSClientHandler(routes: routes, eventLoop: channel.eventLoop))
          }
        }
        .connect(host: server.host, port: server.port).wait()
    } catch {
      throw .cannotConnect(servers: server.description, reason: "\(error)")
    }
    do throws(NATSError) {
      let (handler, info) = try Self.wait(
        "the server's INFO", timeout: timeout,
        channel.eventLoop.flatSubmit {
          let handler = try! channel.pipeline.syncOperations.handler(type: NATSClientHandler.self)
          let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
          return handler.serverInfo.futureResult.map { (bound, $0) }
        })
      let fields = (try? JSONSerialization.jsonObject(with: Data(info.utf8))) as? [String: Any]
      let connection = NATSConnection(
        server: server, maximumPayload: (fields?["max_payload"] as? Int) ?? 1 << 20, channel: channel, routes: routes, handler: handler)
      let options = #"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"lang":"swift","version":"1","protocol":1}"#
      connection.send(ClientOperation.connect(options) + ClientOperation.subscribe("\(routes.inboxPrefix)*", id: MessageRoutes.inboxSubscription))
      try connection.flush(timeout: timeout)
      return connection
    } catch {
      channel.close(promise: nil)
      throw error
    }
  }

  /// Closes the connection; waiting callers get ``NATSError/connectionClosed``.
  package func close() {
    routes.close(.connectionClosed)
    channel.close(promise: nil)
  }

  /// Publishes a message (no answer expected).
  package func publish(
    _ payload: ByteBuffer, to subject: String, replyTo: String? = nil, headers: [(name: String, value: String)] = []
  ) {
    var buffer = channel.allocator.buffer(capacity: payload.readableBytes + 128)
    ClientOperation.publish(subject, replyTo: replyTo, headers: headers, payload: payload, into: &buffer)
    channel.writeAndFlush(buffer, promise: nil)
  }

  /// Publishes a message and waits for its first answer.
  package func request(
    _ payload: ByteBuffer, to subject: String, headers: [(name: String, value: String)] = [], timeout: Double
  ) throws(NATSError) -> NATSMessage {
    let (inbox, queue) = routes.newInbox()
    defer { routes.removeInbox(inbox) }
    publish(payload, to: subject, replyTo: inbox, headers: headers)
    guard let answer = try queue.next(until: Date(timeIntervalSinceNow: timeout)) else {
      throw .timedOut(operation: "a request to \(subject)", seconds: timeout)
    }
    if answer.status == 503 { throw .noResponders(subject: subject) }
    return answer
  }

  /// An inbox whose messages arrive in the returned queue until ``removeInbox(_:)``.
  package func makeInbox() -> (subject: String, queue: MessageQueue) { routes.newInbox() }

  /// Stops delivering to an inbox made by ``makeInbox()``.
  package func removeInbox(_ subject: String) { routes.removeInbox(subject) }

  /// A subject no one else uses, for a subscription of one's own.
  package func makeInboxSubject() -> String { "_INBOX.\(UInt64.random(in: 0...UInt64.max)).\(UInt64.random(in: 0...UInt64.max))" }

  /// Subscribes to `subject`: its messages arrive in the subscription's queue. Returns once the
  /// server has the subscription.
  package func subscribe(_ subject: String, timeout: Double) throws(NATSError) -> NATSSubscription {
    let subscription = routes.newSubscription(subject)
    send(ClientOperation.subscribe(subject, id: subscription.id))
    try flush(timeout: timeout)
    return subscription
  }

  /// Ends a subscription.
  package func unsubscribe(_ subscription: NATSSubscription) {
    routes.removeSubscription(subscription.id)
    send(ClientOperation.unsubscribe(id: subscription.id))
  }

  /// Waits until the server has processed everything sent before (a `PING` answered by a `PONG`).
  package func flush(timeout: Double) throws(NATSError) {
    let handler = self.handler
    let channel = self.channel
    let pong = channel.eventLoop.flatSubmit {
      let promise = channel.eventLoop.makePromise(of: Void.self)
      handler.value.awaitingPong.append(promise)
      channel.writeAndFlush(channel.allocator.buffer(string: ClientOperation.ping), promise: nil)
      return promise.futureResult
    }
    try Self.wait("PING", timeout: timeout, pong)
  }

  private func send(_ text: String) {
    channel.writeAndFlush(channel.allocator.buffer(string: text), promise: nil)
  }

  /// The value of `future`, or ``NATSError/timedOut(operation:seconds:)`` after `timeout` seconds.
  private static func wait<Value: Sendable>(
    _ operation: String, timeout: Double, _ future: EventLoopFuture<Value>
  ) throws(NATSError) -> Value {
    let deadline = future.eventLoop.makePromise(of: Value.self)
    future.cascade(to: deadline)
    let timer = future.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
      deadline.fail(NATSError.timedOut(operation: operation, seconds: timeout))
    }
    defer { timer.cancel() }
    do {
      return try deadline.futureResult.wait()
    } catch let error as NATSError {
      throw error
    } catch {
      throw .connectionClosed
    }
  }
}

/// A subscription's subject and the queue its messages arrive in.
package struct NATSSubscription: Sendable {
  package let subject: String
  let id: UInt64
  package let queue: MessageQueue
}

/// Where messages go: the connection's inbox (one wildcard subscription, a queue per reply subject),
/// and subscriptions of their own.
package final class MessageRoutes: Sendable {
  static let inboxSubscription: UInt64 = 1
  /// `_INBOX.<random>.`: every reply subject of this connection starts with it.
  let inboxPrefix = "_INBOX.\(UInt64.random(in: 0...UInt64.max)).\(UInt64.random(in: 0...UInt64.max))."

  private struct State {
    var inboxes: [String: MessageQueue] = [:]
    var subscriptions: [UInt64: MessageQueue] = [:]
    var nextToken: UInt64 = 0
    var nextSubscription = MessageRoutes.inboxSubscription
    var closed: NATSError?
  }
  private let state = NIOLockedValueBox(State())

  func newInbox() -> (subject: String, queue: MessageQueue) {
    let queue = MessageQueue()
    let subject = state.withLockedValue { state in
      state.nextToken += 1
      let subject = inboxPrefix + String(state.nextToken)
      if let closed = state.closed { queue.fail(closed) } else { state.inboxes[subject] = queue }
      return subject
    }
    return (subject, queue)
  }

  func removeInbox(_ subject: String) {
    _ = state.withLockedValue { $0.inboxes.removeValue(forKey: subject) }
  }

  func newSubscription(_ subject: String) -> NATSSubscription {
    let queue = MessageQueue()
    let id = state.withLockedValue { state in
      state.nextSubscription += 1
      if let closed = state.closed { queue.fail(closed) } else { state.subscriptions[state.nextSubscription] = queue }
      return state.nextSubscription
    }
    return NATSSubscription(subject: subject, id: id, queue: queue)
  }

  func removeSubscription(_ id: UInt64) {
    _ = state.withLockedValue { $0.subscriptions.removeValue(forKey: id) }
  }

  func deliver(_ message: NATSMessage, subscription: UInt64) {
    let queue = state.withLockedValue { state in
      subscription == Self.inboxSubscription ? state.inboxes[message.subject] : state.subscriptions[subscription]
    }
    queue?.append(message)
  }

  func close(_ error: NATSError) {
    let queues = state.withLockedValue { state in
      state.closed = state.closed ?? error
      defer {
        state.inboxes = [:]
        state.subscriptions = [:]
      }
      return Array(state.inboxes.values) + Array(state.subscriptions.values)
    }
    for queue in queues { queue.fail(error) }
  }
}

/// The connection's end of the pipeline, on its event loop: answers the server's `PING`, hands
/// messages to their inbox, completes `PING`s, and fails everything waiting when the connection ends.
final class NATSClientHandler: ChannelInboundHandler {
  typealias InboundIn = ServerOperation
  typealias OutboundOut = ByteBuffer

  let routes: MessageRoutes
  /// Completed by the server's first `INFO`.
  let serverInfo: EventLoopPromise<String>
  /// Our `PING`s in the order they were sent.
  var awaitingPong = CircularBuffer<EventLoopPromise<Void>>()

  init(routes: MessageRoutes, eventLoop: any EventLoop) {
    self.routes = routes
    self.serverInfo = eventLoop.makePromise()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .info(let json): serverInfo.succeed(json)
    case .message(let message, let subscription): routes.deliver(message, subscription: subscription)
    case .ping: context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: ClientOperation.pong)), promise: nil)
    case .pong: awaitingPong.popFirst()?.succeed()
    case .ok: break
    case .error(let message): fail(.server(message), context: context)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    fail(.connectionClosed, context: context)
    context.fireChannelInactive()
  }

  // A connection refused before it was active ends here without channelInactive.
  func handlerRemoved(context: ChannelHandlerContext) {
    fail(.connectionClosed, context: context)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    fail((error as? NATSError) ?? .protocolViolation("\(error)"), context: context)
    context.close(promise: nil)
  }

  private func fail(_ error: NATSError, context: ChannelHandlerContext) {
    serverInfo.fail(error)
    while let pong = awaitingPong.popFirst() { pong.fail(error) }
    routes.close(error)
  }
}
