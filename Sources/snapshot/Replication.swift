import ArgumentParser
import Dispatch
import Foundation
import Snapshot
import SnapshotKV
import SnapshotReplication
import SnapshotVerification
import SystemPackage

/// Where a replicated region's stream lives, for `follow` and `promote`.
struct ReplicationArguments: ParsableArguments {
  @Option(help: "The NATS servers of the JetStream cluster, comma-separated (any of them will do).")
  var servers = "nats://127.0.0.1:4222"

  @Option(help: "This node's name as a primary (default: the host name and the region's path).")
  var node: String?

  @Option(help: "Replicas of the stream when it is created.")
  var replicas = 3

  @Option(help: "Seconds to wait for the servers before giving up.")
  var timeout = 10.0

  func options(stream: String) -> ReplicationOptions {
    ReplicationOptions(
      servers: servers.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }, stream: stream, node: node,
      replicas: replicas, timeout: timeout)
  }
}

struct Follow: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Keep a replica of a replicated region: apply the stream's commits to it as they come.",
    discussion: """
      The replica is created (empty) when PATH does not exist and the stream starts with the primary's \
      first commit; otherwise start from a copy of a closed replica. A restarted follower resumes from \
      its own epoch. Runs until interrupted (SIGINT or SIGTERM), or with --once until the stream's end.
      """)

  @Argument(help: "The stream the primary publishes to.")
  var stream: String

  @Argument(help: "The replica region.")
  var path: String

  @OptionGroup var replication: ReplicationArguments

  @Flag(help: "Apply what the stream holds now, then exit.")
  var once = false

  func run() throws {
    let follower = try reportingErrors { () throws(ReplicationError) in
      try Follower.open(at: FilePath(path), options: replication.options(stream: stream))
    }
    defer { try? follower.close() }
    if once {
      let epoch = try reportingErrors { () throws(ReplicationError) in try follower.catchUp() }
      print("\(path): at commit \(epoch) of stream \(stream)")
      return
    }
    let stop = StopRequest()
    var shown = UInt64.max
    var lastShown = Date.distantPast
    try reportingErrors { () throws(ReplicationError) in
      try follower.follow(wait: 0.5) {
        if follower.region.epoch != shown, Date().timeIntervalSince(lastShown) >= 1 {
          shown = follower.region.epoch
          lastShown = Date()
          printError("following \(stream) into \(path): at commit \(shown)")
        }
        return !stop.isRequested
      }
    }
    print("\(path): at commit \(follower.region.epoch) of stream \(stream)")
  }
}

struct Promote: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Make a replica the primary of its stream: apply the stream to its end, then claim it.",
    discussion: """
      From then on the former primary's commits are refused, and so is opening it as primary again. \
      Open the promoted region as primary with the same --node (the default node name is the same on \
      the same host and path).
      """)

  @Argument(help: "The stream.")
  var stream: String

  @Argument(help: "The replica region to promote.")
  var path: String

  @OptionGroup var replication: ReplicationArguments

  func run() throws {
    let epoch = try reportingErrors { () throws(ReplicationError) in
      try ReplicatedRegion.promote(at: FilePath(path), options: replication.options(stream: stream))
    }
    print("\(path): primary of stream \(stream) at commit \(epoch)")
  }
}

/// A SIGINT or SIGTERM, asked for between steps.
final class StopRequest: @unchecked Sendable {
  private let lock = NSLock()
  private var requested = false
  private var sources: [any DispatchSourceSignal] = []

  init() {
    for signalNumber in [SIGINT, SIGTERM] {
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber)
      source.setEventHandler { [weak self] in self?.request() }
      source.resume()
      sources.append(source)
    }
  }

  private func request() {
    lock.withLock { requested = true }
  }

  var isRequested: Bool { lock.withLock { requested } }
}

/// The primary of replication's failure tests: bank transfers, one per commit, each announced on
/// standard output once msync returned (`acked EPOCH`), until killed or done.
struct ReplicatedBankWorker: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "replication-bank-worker", shouldDisplay: false)

  @Argument var stream: String
  @Argument var path: String
  @OptionGroup var replication: ReplicationArguments
  @Option var transfers = Int.max
  @Option var seed: UInt64 = 1

  func run() throws {
    let announce = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    let primary = try reportingErrors { () throws(ReplicationError) in
      try ReplicatedRegion.open(at: FilePath(path), options: replication.options(stream: stream), creatingWithSize: 1 << 20)
    }
    var generator = SeededGenerator(seed: seed &+ primary.region.epoch)
    do throws(SnapshotError) {
      if primary.region.epoch == 0 {
        try SnapshotKV.format(primary.region, index: .ordered)
        try Bank.open(try SnapshotKV(region: primary.region, autocommit: false))
        announce("acked \(try primary.region.msync())")
      }
      let store = try SnapshotKV(region: primary.region, autocommit: false)
      for _ in 0..<transfers {
        try Bank.transfer(store, using: &generator)
        announce("acked \(try primary.region.msync())")
      }
      try primary.close()
    } catch {
      announce("failed \(error)")
      throw ExitCode(3)
    }
  }
}
