import ArgumentParser
import Foundation

@main
struct SnapshotBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snapshot-bench",
    abstract: "Benchmarks of Snapshot for Swift, each against a baseline measured in the same run.",
    subcommands: [YCSBComparison.self, Micro.self, Files.self, KeyValue.self, ThreadScaling.self, SQLiteComparison.self, ReplicationBenchmark.self, YCSBRun.self]
  )
}

struct Micro: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Store, msync and recovery microbenchmarks on persistent memory (a tmpfs stand-in).",
    discussion: "Every figure is the median of several repetitions, and every ratio compares two "
      + "figures measured side by side in this run. Build with -c release.")

  @Option(help: "Where to put the region files (a tmpfs or DAX mount).")
  var directory = "/dev/shm"

  @OptionGroup var output: ReportOptions
  private var repetitions: Int { output.repetitions ?? 7 }

  @Option(help: "Rounds of the paper's msync microbenchmark.")
  var paperRounds = 200_000

  @Option(help: "Run only these groups (comma-separated: stores, msync, paper, recovery, growth, grow, pages; grow is left out unless named).")
  var only: String?

  @Option(help: "Records the grow group loads into a store from its default size.")
  var growRecords = 1_000_000

  func run() throws {
    ReportOptions.warnIfDebugBuild()
    let workspace = try Workspace(parent: directory)
    var report = BenchmarkReport(title: "Snapshot microbenchmarks (persistent memory on \(directory))")
    let groups = Set((only ?? "stores,msync,paper,recovery,growth,pages").split(separator: ",").map(String.init))
    if groups.contains("stores") {
      try StoreBenchmark(workspace: workspace, repetitions: repetitions).run(into: &report)
      workspace.clear()
    }
    if groups.contains("msync") {
      try MsyncBenchmark(workspace: workspace, repetitions: repetitions).run(into: &report)
      workspace.clear()
    }
    if groups.contains("paper") {
      try PaperMsyncBenchmark(workspace: workspace, rounds: paperRounds, repetitions: max(3, repetitions / 2)).run(into: &report)
      workspace.clear()
    }
    if groups.contains("recovery") {
      try RecoveryBenchmark(workspace: workspace, repetitions: max(3, repetitions / 2)).run(into: &report)
      workspace.clear()
    }
    if groups.contains("growth") {
      try LogGrowthBenchmark(workspace: workspace, repetitions: max(3, repetitions / 2)).run(into: &report)
      workspace.clear()
    }
    if groups.contains("grow") {
      try RegionGrowthBenchmark(workspace: workspace, repetitions: max(3, repetitions / 2), records: growRecords).run(into: &report)
      workspace.clear()
    }
    if groups.contains("pages") {
      try PageBenchmarks(workspace: workspace, repetitions: repetitions).run(into: &report)
      workspace.clear()
    }
    try output.publish(report)
  }
}

struct Files: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "file",
    abstract: "Regions on an ordinary file: msync latency and commit rates against LMDB and Kyoto Cabinet.",
    discussion: "Run ./setup first to install the libraries compared against. Every ratio compares figures "
      + "measured in this run on the same file system. Build with -c release.")

  @Option(help: "A directory on the file system to measure (an SSD or disk; not tmpfs).")
  var directory = FileManager.default.temporaryDirectory.path

  @OptionGroup var output: ReportOptions
  private var repetitions: Int { output.repetitions ?? 5 }

  func run() throws {
    let folder = "\(directory)/snapshot-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var report = BenchmarkReport(title: "Snapshot on an ordinary file (\(directory))")
    try FileBenchmarks(directory: folder, repetitions: repetitions).run(into: &report)
    try output.publish(report)
  }
}

struct KeyValue: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kv",
    abstract: "The key-value store: point reads against ordinary memory, put + commit against PMDK.",
    discussion: "Run ./setup first to install PMDK. PMDK runs with PMEM_IS_PMEM_FORCE=1 (cache flushes, as on "
      + "persistent memory). Every ratio compares figures measured in this run on the same medium. Build with -c release.")

  @Option(help: "Where to put the region and pool files (a tmpfs or DAX mount).")
  var directory = "/dev/shm"

  @Option(help: "Keys in the store for the point-read benchmark.")
  var keys = 1_000_000

  @Option(help: "Keys loaded before the put + commit benchmark.")
  var preloadedKeys = 100_000

  @Option(help: "Lookups per repetition.")
  var reads = 500_000

  @Option(help: "Put + commit operations per repetition and kind.")
  var commits = 5_000

  @OptionGroup var output: ReportOptions
  private var repetitions: Int { output.repetitions ?? 5 }

  func run() throws {
    ReportOptions.warnIfDebugBuild()
    // Read once, when PMDK first checks a mapping; nothing has called it yet.
    setenv("PMEM_IS_PMEM_FORCE", "1", 1)
    let workspace = try Workspace(parent: directory)
    var report = BenchmarkReport(title: "SnapshotKV against the same containers in ordinary memory and on PMDK (\(directory))")
    try KeyValueBenchmarks(
      workspace: workspace, keys: keys, preloadedKeys: preloadedKeys, reads: reads, commits: commits, repetitions: repetitions
    ).run(into: &report)
    try output.publish(report)
  }
}

struct ThreadScaling: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "threads",
    abstract: "Regions shared by threads: tracked-store throughput on 1 and 2 threads, and the paper's msync "
      + "scaling benchmark on 1, 2 and 4 threads against POSIX msync.",
    discussion: "Every ratio compares figures measured in this run on the same medium. Build with -c release.")

  @Option(help: "Where to put the persistent-memory files (a tmpfs or DAX mount).")
  var directory = "/dev/shm"

  @Option(help: "A directory on an ordinary file system, for the file runs of the msync scaling benchmark.")
  var fileDirectory = FileManager.default.temporaryDirectory.path

  @Option(help: "Rounds of the msync scaling benchmark on persistent memory, split among the threads.")
  var rounds = 200_000

  @Option(help: "Rounds of the msync scaling benchmark on the file system.")
  var fileRounds = 1_000

  @OptionGroup var output: ReportOptions
  private var repetitions: Int { output.repetitions ?? 3 }

  @Option(help: "Run only these groups (comma-separated: stores, pm, file).")
  var only: String?

  func run() throws {
    ReportOptions.warnIfDebugBuild()
    let groups = Set((only ?? "stores,pm,file").split(separator: ",").map(String.init))
    var report = BenchmarkReport(title: "Regions shared by threads (persistent memory on \(directory), files in \(fileDirectory))")
    let memory = try Workspace(parent: directory)
    if groups.contains("stores") {
      try TrackedStoreScaling(workspace: memory, repetitions: repetitions).run(into: &report)
      memory.clear()
    }
    if groups.contains("pm") {
      try MsyncScaling(workspace: memory, backing: .persistentMemory, rounds: rounds, repetitions: repetitions).run(into: &report)
      memory.clear()
    }
    if groups.contains("file") {
      let disk = try Workspace(parent: fileDirectory)
      try MsyncScaling(workspace: disk, backing: .file, rounds: fileRounds, repetitions: repetitions).run(into: &report)
    }
    try output.publish(report)
  }
}

/// The options every benchmark command takes: repetitions, and where else the report goes.
struct ReportOptions: ParsableArguments {
  @Option(help: "Repetitions of each measurement; the median is reported (each command has its own default).")
  var repetitions: Int?

  @Option(help: "Also write the results as JSON to this file.")
  var json: String?

  /// Prints the report as Markdown, and writes it as JSON when asked.
  func publish(_ report: BenchmarkReport) throws {
    print(report.markdown())
    if let json { try report.write(json: json) }
  }

  static func warnIfDebugBuild() {
    #if DEBUG
    printProgress("warning: a debug build; numbers from it say nothing about release performance")
    #endif
  }
}
