import Foundation

/// Messages handed from the event loop to a thread that waits for them.
package final class MessageQueue: @unchecked Sendable {
  // Guarded by `condition`.
  private var messages: [NATSMessage] = []
  private var failure: NATSError?
  private let condition = NSCondition()

  func append(_ message: NATSMessage) {
    condition.lock()
    messages.append(message)
    condition.signal()
    condition.unlock()
  }

  /// No more messages will come: `next` throws `error` once the queue is empty.
  func fail(_ error: NATSError) {
    condition.lock()
    failure = failure ?? error
    condition.broadcast()
    condition.unlock()
  }

  /// The oldest message, waiting for one until `deadline`; nil when none came by then.
  package func next(until deadline: Date) throws(NATSError) -> NATSMessage? {
    condition.lock()
    defer { condition.unlock() }
    while messages.isEmpty {
      if let failure { throw failure }
      guard condition.wait(until: deadline) else { return nil }
    }
    return messages.removeFirst()
  }
}
