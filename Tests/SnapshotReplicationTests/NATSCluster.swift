import Foundation
import SnapshotReplication
import SnapshotTestSupport

/// The three-node JetStream cluster of Tests/NATSCluster, run by the tests on loopback ports: started
/// fresh (empty stores), nodes killed and restarted at will, stopped at the end.
final class NATSCluster: @unchecked Sendable {
  static let nodes = 1...3
  let directory = TestDirectory("nats-cluster", onDisk: true)
  private var processes: [Int: Process] = [:]

  static func server(_ node: Int) -> NATSServer { NATSServer(host: "127.0.0.1", port: 14220 + node) }
  var servers: [NATSServer] { Self.nodes.map(Self.server) }

  /// Starts every node and waits until the cluster can create a replicated stream.
  init() throws {
    guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
      throw ClusterError("nats-server is not installed at \(Self.executable): run Scripts/setup")
    }
    Self.stopLeftovers()
    for node in Self.nodes { try start(node) }
    try waitUntilReady()
  }

  deinit {
    for node in Self.nodes {
      resume(node)
      kill(node, signal: SIGTERM)
    }
  }

  static let executable = "/usr/sbin/nats-server"
  static let configurations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("NATSCluster")

  /// Ends servers of these configurations that a test process killed before its tear-down left
  /// running: they hold the ports.
  static func stopLeftovers() {
    let ours = configurations.path
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
    for entry in entries {
      guard let pid = Int32(entry), let commandLine = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
      if String(decoding: commandLine, as: UTF8.self).contains(ours) {
        Foundation.kill(pid, SIGKILL)
        while Foundation.kill(pid, 0) == 0 { Thread.sleep(forTimeInterval: 0.01) }
      }
    }
  }

  /// Starts `node` (again), on its store of before.
  func start(_ node: Int) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.executable)
    process.arguments = [
      "--config", Self.configurations.appendingPathComponent("node-\(node).conf").path,
      "--store_dir", "\(directory.path)/node-\(node)", "--log", "\(directory.path)/node-\(node).log",
    ]
    try process.run()
    processes[node] = process
  }

  /// Sends `signal` to `node` and waits for it to end.
  func kill(_ node: Int, signal: Int32 = SIGKILL) {
    guard let process = processes.removeValue(forKey: node), process.isRunning else { return }
    Foundation.kill(process.processIdentifier, signal)
    process.waitUntilExit()
  }

  /// Stops `node` as a network partition would: it keeps its connections but answers nothing.
  func pause(_ node: Int) {
    if let process = processes[node] { Foundation.kill(process.processIdentifier, SIGSTOP) }
  }

  /// Lets a paused node go on.
  func resume(_ node: Int) {
    if let process = processes[node] { Foundation.kill(process.processIdentifier, SIGCONT) }
  }

  /// Starts every node that is not running and resumes every paused one, and waits until `streams`
  /// answer again: after every node was killed, a stream elects its leader some time after the
  /// cluster's own (nats-server 2.9 answers 503 meanwhile, once for longer than 20 s).
  func restoreAll(streams: [String] = []) throws {
    for node in Self.nodes {
      if processes[node]?.isRunning == true { resume(node) } else { try start(node) }
    }
    try waitUntilReady()
    for stream in streams { try waitUntilAvailable(stream) }
  }

  /// Waits until `stream`'s state can be read, or finds it does not exist.
  func waitUntilAvailable(_ stream: String, timeout: Double = 90) throws {
    try poll(timeout: timeout, "stream \(stream) did not answer") { jetStream in _ = try jetStream.streamState(stream) }
  }

  /// Waits until a stream with three replicas can be made: the cluster has a meta leader and every
  /// node is routed.
  func waitUntilReady(timeout: Double = 30) throws {
    try poll(timeout: timeout, "the NATS cluster was not ready") { jetStream in
      let probe = "READY\(UInt32.random(in: 0...UInt32.max))"
      try jetStream.createStream(.init(name: probe, subjects: [probe], replicas: 3))
      try jetStream.deleteStream(probe)
    }
  }

  /// Tries `check` on a fresh connection every 0.2 s until it succeeds, for at most `timeout` seconds.
  private func poll(timeout: Double, _ failure: String, _ check: (JetStream) throws -> Void) throws {
    let deadline = Date(timeIntervalSinceNow: timeout)
    var last = ""
    while Date() < deadline {
      do {
        let connection = try NATSConnection.connect(to: servers, timeout: 2)
        defer { connection.close() }
        try check(JetStream(connection: connection, timeout: 2))
        return
      } catch {
        last = "\(error)"
        Thread.sleep(forTimeInterval: 0.2)
      }
    }
    throw ClusterError("\(failure) within \(timeout) s: \(last)")
  }

  struct ClusterError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
  }
}
