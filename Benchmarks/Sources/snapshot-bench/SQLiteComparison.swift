import ArgumentParser
import Foundation
import YCSB

/// SQLite on the snapshot VFS against SQLite's own ways of committing, on the same SQL: YCSB A-F over
/// `usertable`, one transaction per operation, on a file system and on persistent memory; the
/// commit-rate experiment; the bytes written per byte committed.
struct SQLiteComparison: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sqlite",
    abstract: "SQLite on the snapshot VFS against SQLite's rollback journal and write-ahead log, YCSB A-F.",
    discussion: "Each run is a process of its own; every figure is the median of --repetitions runs, and every ratio "
      + "compares configurations measured in this run on the same medium. WAL with synchronous=NORMAL is atomic but "
      + "not durable when a commit returns. On /dev/shm SQLite's own fsync costs nothing and makes nothing durable: "
      + "there only the snapshot VFS's commit is a real one. Build with -c release.")

  @Option(help: "Media: file (an ordinary file system) and pm (/dev/shm).")
  var media = "file,pm"

  @Option(help: "Workloads to run.")
  var workloads = "A,B,C,D,E,F"

  @Option(help: "Records loaded before each run on a file.")
  var fileRecords = 20_000

  @Option(help: "Operations per run on a file, and in the commit-rate experiment.")
  var fileOperations = 3_000

  @Option(help: "Records loaded before each run on persistent memory.")
  var records = 50_000

  @Option(help: "Operations per run on persistent memory.")
  var operations = 200_000

  @Option(help: "Largest N of the commit-rate experiment on a file (a commit with probability 1/N); 0 skips it.")
  var maxCommitInterval = 128

  @Option(help: "Runs of each configuration; the median is reported.")
  var repetitions = 3

  @Option(help: "Directory for persistent-memory files.")
  var pmDirectory = "/dev/shm"

  @Option(help: "Directory for file-medium files (an SSD or disk; not tmpfs).")
  var fileDirectory = FileManager.default.temporaryDirectory.path

  @Option(help: "Seed of the operation sequence (the same for every configuration).")
  var seed: UInt64 = 1

  static let engines: [EngineKind] = [.sqliteSnapshot, .sqliteRollback, .sqliteWAL, .sqliteWALNormal]

  func run() throws {
    ReportOptions.warnIfDebugBuild()
    let specs = try WorkloadSpec.list(workloads)
    let mediaKinds = try media.split(separator: ",").map { name in
      guard let medium = MediumKind(rawValue: String(name)), medium != .cxl else { throw ValidationError("no medium \(name): file or pm") }
      return medium
    }
    var runner = ChildRunner(
      repetitions: repetitions, seed: seed, directories: [.pm: pmDirectory, .file: fileDirectory],
      device: DeviceSettings(cacheBytes: 0, latencyNanoseconds: 0))
    let intervals = mediaKinds.contains(.file) && maxCommitInterval > 0
      ? Array(sequence(first: 1) { $0 * 2 }.prefix { $0 <= maxCommitInterval }) : []
    let measuredIntervals = intervals.filter { $0 > 1 || !specs.contains(.a) }.count
    runner.total = repetitions * (mediaKinds.count * specs.count + measuredIntervals) * Self.engines.count
    func measure(_ medium: MediumKind, _ spec: WorkloadSpec, records: Int, operations: Int, commitEvery: Int) throws -> [EngineKind: YCSBResult] {
      let results = try runner.measure(Self.engines, medium: medium, spec: spec, records: records, operations: operations, commitEvery: commitEvery)
      return Dictionary(uniqueKeysWithValues: zip(Self.engines, results))
    }
    var results: [MediumKind: [String: [EngineKind: YCSBResult]]] = [:]
    for medium in mediaKinds {
      for spec in specs {
        results[medium, default: [:]][spec.name] = try measure(
          medium, spec, records: medium == .file ? fileRecords : records, operations: medium == .file ? fileOperations : operations,
          commitEvery: 1)
      }
    }
    var commitRate: [Int: [EngineKind: YCSBResult]] = [:]
    for interval in intervals {
      commitRate[interval] = interval == 1 && specs.contains(.a)
        ? results[.file]?["A"]
        : try measure(.file, .a, records: fileRecords, operations: fileOperations, commitEvery: interval)
    }
    print(report(results, commitRate: commitRate, specs: specs))
  }

  private func report(_ results: [MediumKind: [String: [EngineKind: YCSBResult]]], commitRate: [Int: [EngineKind: YCSBResult]], specs: [WorkloadSpec]) -> String {
    var lines = ["## SQLite on the snapshot VFS (operations per second, one transaction each; medians of \(repetitions))", "",
                 "Each configuration runs in a process of its own; one repetition runs every configuration of a row back "
                   + "to back. A figure is the median of the repetitions, their range in parentheses; a ratio is the median "
                   + "of the repetitions' ratios.", ""]
    let names = Self.engines.map(\.rawValue).joined(separator: " | ")
    for (medium, byWorkload) in results.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
      lines += ["### \(medium == .file ? "file (\(fileDirectory))" : "persistent memory (\(pmDirectory)): SQLite's fsync is free here and not durable")", ""]
      lines += ["| workload | \(names) | snapshot / delete | snapshot / wal | snapshot / wal-normal |", "|---|---|---|---|---|---|---|---|"]
      for spec in specs {
        guard let row = byWorkload[spec.name], let snapshot = row[.sqliteSnapshot] else { continue }
        let rates = Self.engines.map { row[$0]?.throughput.formattedRate ?? "" }.joined(separator: " | ")
        let ratios = [EngineKind.sqliteRollback, .sqliteWAL, .sqliteWALNormal].map { other in
          row[other].map { snapshot.speedup(over: $0).formatted(suffix: "x") } ?? ""
        }
        lines.append("| \(spec.name) | \(rates) | \(ratios.joined(separator: " | ")) |")
      }
      lines.append("")
      if let a = byWorkload["A"], medium == .file {
        lines += ["Bytes written per byte of user data changed, workload A (write and pwrite, this process):", ""]
        lines += ["| \(names) |", "|---|---|---|---|"]
        lines.append("| " + Self.engines.map { a[$0]?.writeAmplification.map { String(format: "%.1f", $0) } ?? "" }.joined(separator: " | ") + " |")
        lines.append("")
      }
    }
    if !commitRate.isEmpty {
      lines += ["### Commit rate (file, workload A, a commit with probability 1/N; operations per second)", ""]
      lines += ["| N | \(names) | snapshot / delete | snapshot / wal |", "|---|---|---|---|---|---|---|"]
      for (interval, row) in commitRate.sorted(by: { $0.key < $1.key }) {
        guard let snapshot = row[.sqliteSnapshot] else { continue }
        let rates = Self.engines.map { row[$0]?.throughput.formattedRate ?? "" }.joined(separator: " | ")
        let ratios = [EngineKind.sqliteRollback, .sqliteWAL].map { other in
          row[other].map { snapshot.speedup(over: $0).formatted(suffix: "x") } ?? ""
        }
        lines.append("| \(interval) | \(rates) | \(ratios.joined(separator: " | ")) |")
      }
      lines.append("")
    }
    lines += targets(results)
    return lines.joined(separator: "\n")
  }

  /// The targets, on a file at N = 1 (workload A) and for reads (C) on both media.
  private func targets(_ results: [MediumKind: [String: [EngineKind: YCSBResult]]]) -> [String] {
    var lines = ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
    func row(_ name: String, _ value: Double?, _ goal: Double, _ format: String = "%.2fx") {
      guard let value else { return }
      lines.append("| \(name) | \(String(format: format, value)) | \(value >= goal ? "yes" : "**no**") |")
    }
    let a = results[.file]?["A"]
    func ratio(_ row: [EngineKind: YCSBResult]?, _ other: EngineKind) -> Double? {
      guard let snapshot = row?[.sqliteSnapshot], let base = row?[other] else { return nil }
      return snapshot.speedup(over: base).median
    }
    row("file, A, N = 1: snapshot ≥ 3x SQLite's default (DELETE, FULL)", ratio(a, .sqliteRollback), 3)
    row("file, A, N = 1: snapshot ≥ 1.3x WAL (FULL)", ratio(a, .sqliteWAL), 1.3)
    if let snapshot = a?[.sqliteSnapshot]?.writeAmplification, let wal = a?[.sqliteWAL]?.writeAmplification {
      row("file, A: WAL (FULL) writes ≥ 8x what snapshot writes", wal / snapshot, 8, "%.1fx")
    }
    for medium in [MediumKind.file, .pm] {
      row("\(medium.rawValue), C (reads): snapshot ≥ 0.95x SQLite on its own file (DELETE)", ratio(results[medium]?["C"], .sqliteRollback), 0.95)
    }
    return lines
  }
}
