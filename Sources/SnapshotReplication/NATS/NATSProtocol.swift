import NIOCore

/// What a NATS server sends a client.
enum ServerOperation: Sendable {
  case info(String)
  case message(NATSMessage, subscription: UInt64)
  case ping
  case pong
  case ok
  case error(String)
}

/// Splits the bytes a server sends into operations. The protocol is line-based: `MSG` and `HMSG`
/// lines announce a payload of a given length, which follows with its own CRLF.
struct ServerOperationDecoder: ByteToMessageDecoder {
  typealias InboundOut = ServerOperation

  /// The longest control line accepted; the server's own limit is 4 KiB.
  static let maximumLineLength = 64 * 1024

  mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    guard let operation = try Self.decode(&buffer) else { return .needMoreData }
    context.fireChannelRead(wrapInboundOut(operation))
    return .continue
  }

  /// Takes one operation off the front of `buffer`, or nothing (and leaves `buffer` as it was) when
  /// it is not all there yet.
  static func decode(_ buffer: inout ByteBuffer) throws(NATSError) -> ServerOperation? {
    let view = buffer.readableBytesView
    guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
      if view.count > maximumLineLength { throw .protocolViolation("a control line longer than \(maximumLineLength) bytes") }
      return nil
    }
    let lineLength = newline - view.startIndex + 1
    // Without its CR LF, cut as bytes: in a String, "\r\n" is one Character.
    var content = view.prefix(lineLength - 1)
    if content.last == UInt8(ascii: "\r") { content = content.dropLast() }
    let line = String(decoding: content, as: UTF8.self)
    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
    guard let verb = fields.first?.uppercased() else {
      buffer.moveReaderIndex(forwardBy: lineLength)
      return try decode(&buffer)
    }
    switch verb {
    case "MSG", "HMSG":
      guard let (message, subscription, payloadLength) = try messageHead(fields, headers: verb == "HMSG") else { return nil }
      guard buffer.readableBytes >= lineLength + payloadLength + 2 else { return nil }
      buffer.moveReaderIndex(forwardBy: lineLength)
      var complete = message
      var payload = buffer.readSlice(length: payloadLength)!
      buffer.moveReaderIndex(forwardBy: 2)
      if let headerLength = message.headerLength {
        let headerBlock = payload.readString(length: headerLength) ?? ""
        (complete.message.status, complete.message.headers) = parseHeaders(headerBlock)
      }
      complete.message.payload = payload
      return .message(complete.message, subscription: subscription)
    default:
      buffer.moveReaderIndex(forwardBy: lineLength)
      let rest = line.dropFirst(verb.count).drop { $0 == " " }
      switch verb {
      case "INFO": return .info(String(rest))
      case "PING": return .ping
      case "PONG": return .pong
      case "+OK": return .ok
      case "-ERR": return .error(String(rest).trimmingQuotes)
      default: throw .protocolViolation("an unknown operation from the server: \(line.prefix(80))")
      }
    }
  }

  private struct MessageHead {
    var message: NATSMessage
    var headerLength: Int?
  }

  /// `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <header size> <size>`.
  private static func messageHead(
    _ fields: [Substring], headers: Bool
  ) throws(NATSError) -> (MessageHead, UInt64, Int)? {
    let counts = headers ? 2 : 1
    guard fields.count == 3 + counts || fields.count == 4 + counts,
      let subscription = UInt64(fields[2]),
      let total = Int(fields[fields.count - 1]), total >= 0
    else { throw .protocolViolation("a malformed message line: \(fields.joined(separator: " ").prefix(80))") }
    let reply = fields.count == 4 + counts ? String(fields[3]) : nil
    var headerLength: Int?
    if headers {
      guard let length = Int(fields[fields.count - 2]), length >= 0, length <= total else {
        throw .protocolViolation("a malformed header size: \(fields.joined(separator: " ").prefix(80))")
      }
      headerLength = length
    }
    let message = NATSMessage(subject: String(fields[1]), replyTo: reply, payload: ByteBuffer())
    return (MessageHead(message: message, headerLength: headerLength), subscription, total)
  }

  /// `NATS/1.0 [status [description]]` and then `Name: value` lines.
  static func parseHeaders(_ block: String) -> (status: Int?, headers: [(name: String, value: String)]) {
    var lines = block.split(separator: "\r\n", omittingEmptySubsequences: true).makeIterator()
    let statusLine = lines.next()?.split(separator: " ") ?? []
    let status = statusLine.count > 1 ? Int(statusLine[1]) : nil
    var headers: [(name: String, value: String)] = []
    while let line = lines.next() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
    }
    return (status, headers)
  }
}

/// The bytes of what a client sends.
enum ClientOperation {
  static func connect(_ json: String) -> String { "CONNECT \(json)\r\n" }
  static let ping = "PING\r\n"
  static let pong = "PONG\r\n"
  static func subscribe(_ subject: String, id: UInt64) -> String { "SUB \(subject) \(id)\r\n" }
  static func unsubscribe(id: UInt64) -> String { "UNSUB \(id)\r\n" }

  /// `PUB`, or `HPUB` when there are headers, with the payload.
  static func publish(
    _ subject: String, replyTo: String?, headers: [(name: String, value: String)], payload: ByteBuffer, into buffer: inout ByteBuffer
  ) {
    let reply = replyTo.map { " \($0)" } ?? ""
    if headers.isEmpty {
      buffer.writeString("PUB \(subject)\(reply) \(payload.readableBytes)\r\n")
    } else {
      var block = "NATS/1.0\r\n"
      for header in headers { block += "\(header.name): \(header.value)\r\n" }
      block += "\r\n"
      let headerLength = block.utf8.count
      buffer.writeString("HPUB \(subject)\(reply) \(headerLength) \(headerLength + payload.readableBytes)\r\n")
      buffer.writeString(block)
    }
    var payload = payload
    buffer.writeBuffer(&payload)
    buffer.writeString("\r\n")
  }
}

extension String {
  fileprivate var trimmingQuotes: String {
    var text = Substring(self)
    while text.first == "'" { text.removeFirst() }
    while text.last == "'" { text.removeLast() }
    return String(text)
  }
}
