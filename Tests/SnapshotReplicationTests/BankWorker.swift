import Foundation
import SnapshotReplication
import SnapshotTestSupport

/// A replicated primary in a process of its own (`snapshot replication-bank-worker`): bank transfers,
/// one per commit, each announced once its msync returned. The test kills it when it likes.
final class BankWorker: @unchecked Sendable {
  let process = Process()
  private let lock = NSLock()
  private var acknowledged: UInt64?
  private var failure: String?

  init(stream: String, path: String, node: String, servers: [NATSServer], transfers: Int? = nil, seed: UInt64 = 1) throws {
    process.executableURL = URL(fileURLWithPath: snapshotExecutable)
    var arguments = ["replication-bank-worker", stream, path, "--node", node]
    arguments += ["--servers", servers.map(\.description).joined(separator: ","), "--timeout", "20", "--seed", String(seed)]
    if let transfers { arguments += ["--transfers", String(transfers)] }
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let handle = output.fileHandleForReading
    try process.run()
    Thread.detachNewThread { [self] in
      var lines = LineSplitter()
      while case let data = handle.availableData, !data.isEmpty {
        for line in lines.add(data) { record(line) }
      }
    }
  }

  private func record(_ line: String) {
    lock.withLock {
      if line.hasPrefix("acked "), let epoch = UInt64(line.dropFirst(6)) { acknowledged = epoch }
      if line.hasPrefix("failed ") { failure = String(line.dropFirst(7)) }
    }
  }

  /// The epoch of the last commit whose msync returned.
  var lastAcknowledged: UInt64? { lock.withLock { acknowledged } }
  /// Why the worker's last msync failed, if it did.
  var failureReason: String? { lock.withLock { failure } }

  /// Waits until a commit after `epoch` is acknowledged; false if none is within `timeout` seconds.
  func waitForAcknowledgement(after epoch: UInt64, timeout: Double = 60) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
      if let acknowledged = lastAcknowledged, acknowledged > epoch { return true }
      if !process.isRunning { return false }
      Thread.sleep(forTimeInterval: 0.01)
    }
    return false
  }

  /// SIGKILL, and waits for the process to end; returns the last acknowledged epoch.
  func kill() -> UInt64? {
    if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    Thread.sleep(forTimeInterval: 0.05)
    return lastAcknowledged
  }

  /// Waits for the process to end by itself; nil if it still runs after `timeout` seconds.
  func waitForExit(timeout: Double) -> Int32? {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning { return nil }
    Thread.sleep(forTimeInterval: 0.05)
    return process.terminationStatus
  }
}

/// Cuts bytes into lines.
struct LineSplitter {
  private var pending = Data()

  mutating func add(_ data: Data) -> [String] {
    pending.append(data)
    var lines: [String] = []
    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
      lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
      pending.removeSubrange(pending.startIndex...newline)
    }
    return lines
  }
}
