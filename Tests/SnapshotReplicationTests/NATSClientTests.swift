import NIOCore
import XCTest

@testable import SnapshotReplication

/// The NATS client and the JetStream API against a real three-node cluster.
final class NATSClientTests: ClusterTestCase {
  var servers: [NATSServer] { cluster.servers }

  func testServerAddressesParse() {
    XCTAssertEqual(NATSServer("nats://10.0.0.1:4333"), NATSServer(host: "10.0.0.1", port: 4333))
    XCTAssertEqual(NATSServer("example.org"), NATSServer(host: "example.org", port: 4222))
    XCTAssertNil(NATSServer("host:99999"))
    XCTAssertNil(NATSServer(""))
  }

  func testRequestWithHeadersReachesAResponderAndComesBack() throws {
    let responder = try NATSConnection.connect(to: [NATSCluster.server(2)])
    defer { responder.close() }
    let (subject, queue) = responder.makeInbox()
    _ = queue
    let requester = try NATSConnection.connect(to: [NATSCluster.server(1)])
    defer { requester.close() }
    // A responder on another node: it answers the request's reply subject with the headers echoed.
    let echo = Thread {
      guard let request = try? queue.next(until: Date(timeIntervalSinceNow: 10)), let reply = request.replyTo else { return }
      responder.publish(request.payload, to: reply, headers: request.headers)
    }
    echo.start()
    let answer = try requester.request(ByteBuffer(string: "hello\r\nworld"), to: subject, headers: [("Snapshot-Epoch", "7")], timeout: 10)
    XCTAssertEqual(String(buffer: answer.payload), "hello\r\nworld")
    XCTAssertEqual(answer.header("snapshot-epoch"), "7")
  }

  func testARequestNobodyAnswersSaysSo() throws {
    let connection = try NATSConnection.connect(to: servers)
    defer { connection.close() }
    XCTAssertThrowsError(try connection.request(ByteBuffer(), to: "nobody.listens.here", timeout: 5)) { error in
      XCTAssertEqual(error as? NATSError, .noResponders(subject: "nobody.listens.here"))
    }
  }

  func testConnectingToNoServerNamesEveryAddressTried() {
    XCTAssertThrowsError(try NATSConnection.connect(to: [NATSServer(host: "127.0.0.1", port: 1)], timeout: 1)) { error in
      guard case .cannotConnect(let servers, _) = error as? NATSError else { return XCTFail("\(error)") }
      XCTAssertEqual(servers, "127.0.0.1:1")
    }
  }

  func testPublishIsAcknowledgedOnceAndFencedByTheExpectedLastSequence() throws {
    let connection = try NATSConnection.connect(to: servers)
    defer { connection.close() }
    let jetStream = JetStream(connection: connection)
    let name = "CLIENT\(UInt32.random(in: 0...UInt32.max))"
    try jetStream.createStream(.init(name: name, subjects: ["\(name).>"], replicas: 3))
    defer { try? jetStream.deleteStream(name) }

    let first = try jetStream.publish(ByteBuffer(string: "one"), to: "\(name).batch", messageID: "a-1", expectedLastSequence: 0)
    XCTAssertEqual(first.sequence, 1)
    XCTAssertFalse(first.duplicate)
    // The same id again: stored once, even though the stream has moved past the expected sequence.
    let retried = try jetStream.publish(ByteBuffer(string: "one"), to: "\(name).batch", messageID: "a-1", expectedLastSequence: 0)
    XCTAssertEqual(retried.sequence, 1)
    XCTAssertTrue(retried.duplicate)
    // A publisher that believes the stream is still empty is refused.
    XCTAssertThrowsError(
      try jetStream.publish(ByteBuffer(string: "two"), to: "\(name).batch", messageID: "b-1", expectedLastSequence: 0)
    ) { error in
      guard case .wrongLastSequence(0, _) = error as? JetStreamError else { return XCTFail("\(error)") }
    }
    let second = try jetStream.publish(
      ByteBuffer(string: "two"), to: "\(name).batch", headers: [("Snapshot-Epoch", "2")], messageID: "b-1", expectedLastSequence: 1)
    XCTAssertEqual(second.sequence, 2)
    XCTAssertEqual(try jetStream.streamState(name), JetStream.StreamState(messages: 2, firstSequence: 1, lastSequence: 2))

    let stored = try XCTUnwrap(jetStream.message(in: name, at: 2))
    XCTAssertEqual(stored.payload, Array("two".utf8))
    XCTAssertEqual(stored.header("Snapshot-Epoch"), "2")
    XCTAssertNil(try jetStream.message(in: name, at: 3))
    XCTAssertEqual(try jetStream.lastMessage(in: name, on: "\(name).batch")?.sequence, 2)
    XCTAssertNil(try jetStream.lastMessage(in: name, on: "\(name).other"))
    XCTAssertNil(try jetStream.streamState("NOSUCHSTREAM"))
  }
}

extension NATSClientTests {
  func testAPullConsumerDeliversInOrderFromItsStartAndWaitsForMore() throws {
    let connection = try NATSConnection.connect(to: servers)
    defer { connection.close() }
    let jetStream = JetStream(connection: connection)
    let name = "PULL\(UInt32.random(in: 0...UInt32.max))"
    try jetStream.createStream(.init(name: name, subjects: ["\(name).>"], replicas: 3))
    defer { try? jetStream.deleteStream(name) }
    for index in 1...5 { _ = try jetStream.publish(ByteBuffer(string: "m\(index)"), to: "\(name).batch") }

    let consumer = try jetStream.createPullConsumer(on: name, from: 3)
    let first = try jetStream.fetch(from: consumer, batch: 10, wait: 0.5)
    XCTAssertEqual(first.map(\.sequence), [3, 4, 5])
    XCTAssertEqual(first.map { String(buffer: $0.message.payload) }, ["m3", "m4", "m5"])
    XCTAssertEqual(try jetStream.fetch(from: consumer, batch: 10, wait: 0.2).count, 0)
    // A message published while a fetch waits is delivered to it.
    let publisher = Thread {
      Thread.sleep(forTimeInterval: 0.3)
      _ = try? jetStream.publish(ByteBuffer(string: "m6"), to: "\(name).batch")
    }
    publisher.start()
    let waited = try jetStream.fetch(from: consumer, batch: 10, wait: 5)
    XCTAssertEqual(waited.map(\.sequence), [6])
  }

  func testTheStreamSequenceIsReadFromBothReplyForms() {
    XCTAssertEqual(JetStream.streamSequence(ofReply: "$JS.ACK.S.C.1.42.7.1700000000.0"), 42)
    XCTAssertEqual(JetStream.streamSequence(ofReply: "$JS.ACK.domain.hash.S.C.1.42.7.1700000000.0.token"), 42)
    XCTAssertNil(JetStream.streamSequence(ofReply: "_INBOX.x"))
    XCTAssertNil(JetStream.streamSequence(ofReply: nil))
  }
}
