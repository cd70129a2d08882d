import ArgumentParser
import Foundation
import Snapshot
import SnapshotKV
import SnapshotReplication
import SystemPackage
import YCSB

struct ReplicationBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "replication",
    abstract: "Replicated msync (through a NATS JetStream stream of 3 replicas) against local msync, and follower lag.",
    discussion: "Needs a JetStream cluster: Scripts/nats-cluster start runs the three-node one of the tests on "
      + "loopback. Every ratio compares replicated and local commits measured in this run, on the same medium, "
      + "interleaved. Build with -c release.")

  @Option(help: "The NATS servers, comma-separated.")
  var servers = "127.0.0.1:14221,127.0.0.1:14222,127.0.0.1:14223"

  @Option(help: "Where to put regions on persistent memory (a tmpfs or DAX mount).")
  var directory = "/dev/shm"

  @Option(help: "Where to put regions on an ordinary file system.")
  var fileDirectory = FileManager.default.temporaryDirectory.path

  @Option(help: "Commits per latency run.")
  var commits = 2_000

  @Option(help: "Records of the follower-lag run (1,000 bytes each).")
  var records = 10_000

  @Option(help: "YCSB A operations of the follower-lag run.")
  var operations = 20_000

  @OptionGroup var output: ReportOptions
  private var repetitions: Int { output.repetitions ?? 3 }

  func run() throws {
    ReportOptions.warnIfDebugBuild()
    var report = BenchmarkReport(title: "Replicated msync over NATS JetStream (3 replicas on loopback)")
    for (medium, parent) in [("pm", directory), ("file", fileDirectory)] {
      let workspace = try Workspace(parent: parent)
      var local: [[Double]] = []
      var replicated: [[Double]] = []
      for repetition in 0..<repetitions {
        printProgress("replication: \(medium), repetition \(repetition + 1) of \(repetitions)")
        local.append(try commitLatencies(Region.create(at: FilePath(workspace.file("local")), size: 16 << 20)))
        let primary = try ReplicatedRegion.open(
          at: FilePath(workspace.file("replicated")), options: options(stream: "BENCH\(medium)\(getpid())\(repetition)"),
          creatingWithSize: 16 << 20)
        replicated.append(try commitLatencies(primary.region))
        try primary.close()
        workspace.clear()
      }
      let rate = { (runs: [[Double]]) in median(runs.map { Double($0.count) / $0.reduce(0, +) }) }
      let quantile = { (runs: [[Double]], q: Double) in median(runs.map { percentile($0, q) * 1e6 }) }
      report.add("replication", "\(medium): commits per second, replicated", rate(replicated), unit: "commits/s", baseline: ("local", rate(local)))
      report.add("replication", "\(medium): p50 commit latency, replicated", quantile(replicated, 0.5), unit: "us", baseline: ("local", quantile(local, 0.5)))
      report.add("replication", "\(medium): p99 commit latency, replicated", quantile(replicated, 0.99), unit: "us", baseline: ("local", quantile(local, 0.99)))
    }
    try followerLag(into: &report)
    try output.publish(report)
  }

  func options(stream: String) -> ReplicationOptions {
    ReplicationOptions(servers: servers.split(separator: ",").map(String.init), stream: stream, node: "bench")
  }

  /// The time of each msync of `commits`, each changing one random 8-byte word (its line).
  func commitLatencies(_ region: Region) throws -> [Double] {
    var random = RandomSource(seed: 7)
    var latencies: [Double] = []
    latencies.reserveCapacity(commits)
    for _ in 0..<commits {
      region.store(random.next(), at: Int(random.next() % UInt64(region.size / 8)) * 8)
      let start = DispatchTime.now().uptimeNanoseconds
      try region.msync()
      latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    try region.close()
    return latencies
  }

  /// YCSB A (50% reads, 50% updates of one 100-byte field, zipfian keys, a commit after every
  /// operation) on a replicated SnapshotKV store on persistent memory, with a follower in this
  /// process applying the stream as it comes: how many commits behind the primary it is.
  func followerLag(into report: inout BenchmarkReport) throws {
    let workspace = try Workspace(parent: directory)
    let stream = "BENCHLAG\(getpid())"
    printProgress("replication: follower lag, loading \(records) records")
    let primary = try ReplicatedRegion.open(
      at: FilePath(workspace.file("primary")), options: options(stream: stream), creatingWithSize: max(64 << 20, records * 2_000))
    try SnapshotKV.format(primary.region, index: .hashed)
    let store = try SnapshotKV(region: primary.region, autocommit: false)
    var value = [UInt8](repeating: 0, count: CoreWorkload.fieldCount * CoreWorkload.fieldLength)
    for key in 0..<Int64(records) {
      for index in value.indices { value[index] = UInt8(truncatingIfNeeded: Int(key) &+ index) }
      try store.put(Array(CoreWorkload.keyName(key).utf8), value)
    }
    try primary.region.msync()

    let follower = try Follower.open(at: FilePath(workspace.file("follower")), options: options(stream: stream))
    try follower.catchUp()
    let progress = PrimaryProgress(epoch: primary.region.epoch)
    let lags = FollowerThread(follower: follower, progress: progress)
    printProgress("replication: follower lag, \(operations) operations")
    var workload = CoreWorkload(spec: .a, records: Int64(records), operations: Int64(operations), seed: 11)
    let field = [UInt8](repeating: 0x5A, count: CoreWorkload.fieldLength)
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<operations {
      switch workload.next() {
      case .read(let key):
        _ = try store.get(Array(CoreWorkload.keyName(key).utf8))
      case .update(let key, let index), .readModifyWrite(let key, let index):
        let name = Array(CoreWorkload.keyName(key).utf8)
        _ = try name.withUnsafeBytes { key in
          try field.withUnsafeBytes { try store.overwrite(key, at: index * CoreWorkload.fieldLength, with: $0) }
        }
      case .insert, .scan:
        break
      }
      progress.set(try primary.region.msync())
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let stopped = DispatchTime.now().uptimeNanoseconds
    let samples = lags.finish(at: primary.region.epoch)
    let drain = Double(DispatchTime.now().uptimeNanoseconds - stopped) / 1e6
    try primary.close()
    try follower.close()
    report.add("replication", "pm: YCSB A on a replicated store", Double(operations) / seconds, unit: "ops/s")
    report.add("replication", "follower lag under YCSB A, median", percentile(samples, 0.5), unit: "commits")
    report.add("replication", "follower lag under YCSB A, p99", percentile(samples, 0.99), unit: "commits")
    report.add("replication", "follower catch-up after the primary stops", drain, unit: "ms")
  }
}

/// The primary's last commit, read by the follower's thread.
final class PrimaryProgress: @unchecked Sendable {
  private let lock = NSLock()
  private var epoch: UInt64

  init(epoch: UInt64) { self.epoch = epoch }

  func set(_ epoch: UInt64) { lock.withLock { self.epoch = epoch } }
  var current: UInt64 { lock.withLock { epoch } }
}

/// A follower applying the stream on a thread of its own, sampling how far behind the primary it is
/// each time it has applied what it fetched.
final class FollowerThread: @unchecked Sendable {
  private let lock = NSLock()
  private var samples: [Double] = []
  private var target: UInt64?
  private let done = DispatchSemaphore(value: 0)

  init(follower: Follower, progress: PrimaryProgress) {
    // Used by that thread alone until `finish` returns.
    nonisolated(unsafe) let follower = follower
    Thread.detachNewThread { [self] in
      try? follower.follow(wait: 0.05) {
        let epoch = follower.region.epoch
        return lock.withLock {
          if let target { return epoch < target }
          samples.append(Double(progress.current - min(epoch, progress.current)))
          return true
        }
      }
      done.signal()
    }
  }

  /// Lets the follower go on until it holds `epoch`, then returns the lag samples.
  func finish(at epoch: UInt64) -> [Double] {
    lock.withLock { target = epoch }
    done.wait()
    return lock.withLock { samples }
  }
}

/// The `q` quantile of `values` (nearest rank).
func percentile(_ values: [Double], _ q: Double) -> Double {
  let sorted = values.sorted()
  guard !sorted.isEmpty else { return .nan }
  let rank = Int((Double(sorted.count) * q).rounded(.up))
  return sorted[min(max(rank, 1), sorted.count) - 1]
}
