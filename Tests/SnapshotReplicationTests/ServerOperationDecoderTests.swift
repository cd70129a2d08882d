import NIOCore
import XCTest

@testable import SnapshotReplication

/// The protocol parser on its own: operations cut anywhere by TCP, headers, bad input.
final class ServerOperationDecoderTests: XCTestCase {
  func testAMessageCutAtEveryByteIsDecodedOnceWhole() throws {
    let wire = "PING\r\nHMSG s.batch 1 _INBOX.a 23 28\r\nNATS/1.0\r\nEpoch: 12\r\n\r\nhello\r\nMSG x 9 0\r\n\r\n+OK\r\n"
    for cut in 0...wire.utf8.count {
      var buffer = ByteBuffer(string: String(wire.utf8.prefix(cut))!)
      var decoded: [ServerOperation] = []
      while let operation = try ServerOperationDecoder.decode(&buffer) { decoded.append(operation) }
      buffer.writeString(String(wire.utf8.dropFirst(cut))!)
      while let operation = try ServerOperationDecoder.decode(&buffer) { decoded.append(operation) }
      XCTAssertEqual(buffer.readableBytes, 0)
      XCTAssertEqual(decoded.count, 4, "cut at \(cut)")
      guard case .ping = decoded[0], case .message(let message, 1) = decoded[1], case .message(let empty, 9) = decoded[2],
        case .ok = decoded[3]
      else { return XCTFail("cut at \(cut): \(decoded)") }
      XCTAssertEqual(message.subject, "s.batch")
      XCTAssertEqual(message.replyTo, "_INBOX.a")
      XCTAssertEqual(message.header("epoch"), "12")
      XCTAssertEqual(String(buffer: message.payload), "hello")
      XCTAssertEqual(empty.payload.readableBytes, 0)
    }
  }

  func testTheStatusOfAServerMadeMessageIsRead() throws {
    var buffer = ByteBuffer(string: "HMSG _INBOX.b 1 28 28\r\nNATS/1.0 503 No Responders\r\n\r\n\r\n")
    guard case .message(let message, _) = try ServerOperationDecoder.decode(&buffer) else { return XCTFail() }
    XCTAssertEqual(message.status, 503)
  }

  func testMalformedLinesAreTypedErrors() {
    for line in ["MSG only-a-subject\r\n", "HMSG s 1 40 20\r\n", "WHAT\r\n", "MSG s x 3\r\n"] {
      var buffer = ByteBuffer(string: line)
      XCTAssertThrowsError(try ServerOperationDecoder.decode(&buffer), line) { error in
        guard case .protocolViolation = error as? NATSError else { return XCTFail("\(error)") }
      }
    }
    var endless = ByteBuffer(repeating: UInt8(ascii: "A"), count: ServerOperationDecoder.maximumLineLength + 1)
    XCTAssertThrowsError(try ServerOperationDecoder.decode(&endless))
  }

  func testErrorTextLosesItsQuotes() throws {
    var buffer = ByteBuffer(string: "-ERR 'Authorization Violation'\r\n")
    guard case .error(let text) = try ServerOperationDecoder.decode(&buffer) else { return XCTFail() }
    XCTAssertEqual(text, "Authorization Violation")
  }
}
