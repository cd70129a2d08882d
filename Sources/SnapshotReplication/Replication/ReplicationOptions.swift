import Foundation
import SystemPackage

/// Where a replicated region's commits go: a NATS JetStream stream, replicated by the servers.
public struct ReplicationOptions: Sendable {
  /// The NATS servers to connect to (`nats://host:port` or `host:port`), any of the cluster's: when
  /// one fails, the next is tried.
  public var servers: [String]
  /// The stream's name. It holds the region's commits on the subject `STREAM.commit` and the
  /// primary's claims on `STREAM.primary`; it is created when missing.
  public var stream: String
  /// This process's name as a primary, recorded in its claim of the stream: a primary whose name is
  /// not the last claim's is refused (another has taken over). Nil: the host name and the region's
  /// path.
  public var node: String?
  /// The servers holding a copy of the stream when it is created: a commit is acknowledged once a
  /// majority of them stored it. 3 survives the loss of one server.
  public var replicas: Int
  /// Seconds a commit may wait for its acknowledgement, trying server after server; after that the
  /// commit fails (and was not made).
  public var timeout: Double

  /// Creates options; see each property for its meaning.
  public init(servers: [String], stream: String, node: String? = nil, replicas: Int = 3, timeout: Double = 10) {
    self.servers = servers
    self.stream = stream
    self.node = node
    self.replicas = replicas
    self.timeout = timeout
  }

  /// Seconds to wait for one answer before trying again (through another server when the connection
  /// failed): a stream whose leader died answers again once a new one is elected, in a few seconds.
  var answerTimeout: Double { min(timeout, 2) }

  func nodeName(for path: FilePath) -> String {
    if let node { return node }
    let absolute = path.isAbsolute ? path : FilePath(FileManager.default.currentDirectoryPath).pushing(path)
    return "\(ProcessInfo.processInfo.hostName):\(absolute.lexicallyNormalized())"
  }
}
