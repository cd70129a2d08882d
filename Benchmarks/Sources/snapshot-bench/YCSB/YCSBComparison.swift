import ArgumentParser
import Foundation
import YCSB

/// The comparison: every engine on YCSB A-F on each medium, the commit-rate experiment, write
/// amplification; a Markdown table, a JSON file and plots under the output folder.
struct YCSBComparison: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ycsb",
    abstract: "YCSB A-F and the commit-rate experiment: Snapshot against PMDK, LMDB, Kyoto Cabinet, POSIX msync and page tracking.",
    discussion: "Run ./setup first (it installs PMDK, LMDB, Kyoto Cabinet and matplotlib). Each run is a process "
      + "of its own; every figure is the median of --repetitions runs, and every ratio compares engines measured in "
      + "this run on the same medium. Build with -c release.")

  @Option(help: "Media to measure: pm (/dev/shm, cache-line flushes), cxl (pm behind a CXL device's latency model), file (an ordinary file system).")
  var media = "pm,cxl,file"

  @Option(help: "Workloads to run.")
  var workloads = "A,B,C,D,E,F"

  @Option(help: "Records loaded before each run on persistent memory and emulated CXL memory.")
  var records = 100_000

  @Option(help: "Records loaded before each run on a file (fewer: PMDK's load there pays an msync for every undo snapshot, over a minute for 100,000 records).")
  var fileRecords = 20_000

  @Option(help: "Operations per run on persistent memory.")
  var operations = 500_000

  @Option(help: "Operations per run on emulated CXL memory, except for a workload that scans (--cxl-scan-operations): enough that Snapshot's final checkpoint, which writes home every page the run changed, does not decide a figure.")
  var cxlOperations = 500_000

  @Option(help: "Operations per run on emulated CXL memory of a workload that scans (E): each operation reads up to 100 records, and the baselines take about 40 times as long per operation as on the other workloads.")
  var cxlScanOperations = 50_000

  @Option(help: "Operations per run on a file, and in the commit-rate experiment (each commit is a device sync).")
  var fileOperations = 3_000

  @Option(help: "Largest N of the commit-rate experiment (commit probability 1/N, N = 1, 2, 4, ...); 0 skips it.")
  var maxCommitInterval = 128

  @Option(help: "Runs of each configuration; the median is reported.")
  var repetitions = 3

  @Option(help: "Directory for persistent-memory files (a tmpfs or DAX mount).")
  var pmDirectory = "/dev/shm"

  @Option(help: "cxl: MiB the emulated device's DRAM cache holds (a small cache in front of flash).")
  var cxlCache = 16

  @Option(help: "cxl: nanoseconds an access to a page outside the device's cache costs (the flash; the paper's device: 2.4 to 14.3 us).")
  var cxlLatency = 2_400

  @Option(help: "Directory for file-medium files (an SSD or disk; not tmpfs).")
  var fileDirectory = FileManager.default.temporaryDirectory.path

  @Option(help: "Where the Markdown, JSON and plots go.")
  var output = "results"

  @Option(help: "Seed of the operation sequence (the same for every engine).")
  var seed: UInt64 = 1

  func run() throws {
    ReportOptions.warnIfDebugBuild()
    let specs = try WorkloadSpec.list(workloads)
    let mediaKinds = try media.split(separator: ",").map { name in
      guard let medium = MediumKind(rawValue: String(name)) else { throw ValidationError("no medium \(name): pm, cxl or file") }
      return medium
    }
    let device = DeviceSettings(cacheBytes: cxlCache << 20, latencyNanoseconds: cxlLatency)
    var runner = ChildRunner(
      repetitions: repetitions, seed: seed, directories: [.pm: pmDirectory, .cxl: pmDirectory, .file: fileDirectory], device: device)
    let intervals = maxCommitInterval > 0
      // N = 1 is workload A on a file, run with the workloads when it was asked for.
      ? Array(sequence(first: mediaKinds.contains(.file) && specs.contains(.a) ? 2 : 1) { $0 * 2 }.prefix { $0 <= maxCommitInterval })
      : []
    runner.total = repetitions * (mediaKinds.map { specs.count * Self.engines(on: $0).count }.reduce(0, +)
      + intervals.count * Self.commitRateEngines.count)
    var results: [YCSBResult] = []
    for medium in mediaKinds {
      for spec in specs {
        results += try runner.measure(
          Self.engines(on: medium), medium: medium, spec: spec, records: medium == .file ? fileRecords : records,
          operations: operations(of: spec, on: medium), commitEvery: 1)
      }
    }
    for interval in intervals {
      results += try runner.measure(
        Self.commitRateEngines, medium: .file, spec: .a, records: fileRecords,
        operations: Self.commitRateOperations(interval: interval, atLeast: fileOperations), commitEvery: interval)
    }
    let report = YCSBReport(
      results: results, repetitions: repetitions, device: mediaKinds.contains(.cxl) ? device : nil)
    try report.write(to: output)
  }

  /// Operations of a commit-rate run with a commit every `interval` operations on average: at least
  /// `minimum`, and enough for `minimum / 16` commits, so that no single sync decides a figure.
  static func commitRateOperations(interval: Int, atLeast minimum: Int) -> Int {
    max(minimum, interval * minimum / 16)
  }

  private func operations(of spec: WorkloadSpec, on medium: MediumKind) -> Int {
    switch medium {
    case .pm: operations
    case .cxl: spec.scan > 0 ? cxlScanOperations : cxlOperations
    case .file: fileOperations
    }
  }

  /// LMDB and Kyoto Cabinet make data durable with fdatasync and msync, which flush nothing on tmpfs,
  /// so they run on files only; the volatile limit runs where reads are compared, and the redo floor
  /// (the medium's work alone) on persistent memory, where Snapshot is compared with that limit.
  static func engines(on medium: MediumKind) -> [EngineKind] {
    switch medium {
    case .pm: [.snapshot, .snapshotPages, .msync, .pmdk, .memory, .floor]
    case .file: [.snapshot, .snapshotPages, .msync, .pmdk, .lmdb, .kyoto]
    case .cxl: [.snapshot, .snapshotPages, .msync, .pmdk]
    }
  }

  /// The commit-rate experiment's engines. PMDK is left out: on a file it syncs at every range it adds to
  /// its undo log, not at its commit, so its rate hardly depends on how often it commits (workload A on
  /// a file gives its figure), and its load, a sync per change, would take most of the experiment's time.
  static let commitRateEngines: [EngineKind] = [.snapshot, .snapshotPages, .msync, .lmdb, .kyoto]
}

/// The emulated CXL device's parameters.
struct DeviceSettings: Codable {
  var cacheBytes: Int
  var latencyNanoseconds: Int
}

extension WorkloadSpec {
  /// The workload called `name` (A to F, either case), or a usage error.
  static func named(_ name: some StringProtocol) throws -> WorkloadSpec {
    guard let spec = all.first(where: { $0.name == name.uppercased() }) else { throw ValidationError("no workload \(name): A to F") }
    return spec
  }

  /// The workloads of a comma-separated list.
  static func list(_ names: String) throws -> [WorkloadSpec] {
    try names.split(separator: ",").map { try named($0) }
  }
}
