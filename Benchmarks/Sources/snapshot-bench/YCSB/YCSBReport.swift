import Foundation

/// The comparison's tables, targets, JSON and plots.
struct YCSBReport: Codable {
  struct Target: Codable {
    var name: String
    var measured: Double
    /// The range of the repetitions' ratios.
    var lowest: Double
    var highest: Double
    var wanted: String
    var met: Bool
  }

  var title = "Snapshot against PMDK, LMDB, Kyoto Cabinet, POSIX msync and page tracking: YCSB"
  var machine = MachineDescription()
  /// Runs of each configuration; each figure is their median.
  var repetitions: Int
  /// The emulated CXL device, when cxl was measured.
  var device: DeviceSettings?
  var results: [YCSBResult]
  var targets: [Target] = []

  init(results: [YCSBResult], repetitions: Int, device: DeviceSettings?) {
    self.results = results
    self.repetitions = repetitions
    self.device = device
    targets = computeTargets()
  }

  /// The run of `engine` on `workload` on `medium`, committing every operation.
  func result(_ engine: EngineKind, _ medium: MediumKind, _ workload: String, commitEvery: Int = 1) -> YCSBResult? {
    results.first { $0.engine == engine && $0.medium == medium && $0.workload == workload && $0.commitEvery == commitEvery }
  }

  /// `engine`'s throughput over `baseline`'s, repetition by repetition.
  func speedup(_ engine: EngineKind, over baseline: EngineKind, _ medium: MediumKind, _ workload: String, commitEvery: Int = 1) -> Spread? {
    guard let ours = result(engine, medium, workload, commitEvery: commitEvery),
      let theirs = result(baseline, medium, workload, commitEvery: commitEvery)
    else { return nil }
    return ours.speedup(over: theirs)
  }

  /// Durability at the cost of one fence: on persistent memory, snapshot over the same container in
  /// ordinary memory, at least.
  static let targetsOverMemory = [("A", 0.8), ("B", 0.95), ("C", 0.97), ("D", 0.85), ("F", 0.8)]

  private func computeTargets() -> [Target] {
    var targets: [Target] = []
    func add(_ name: String, _ measured: Spread?, atLeast minimum: Double) {
      guard let measured else { return }
      targets.append(Target(
        name: name, measured: measured.median, lowest: measured.lowest, highest: measured.highest, wanted: "≥ \(format(minimum))x",
        met: measured.median >= minimum))
    }
    for (workload, minimum) in Self.targetsOverMemory {
      add("pm \(workload): snapshot over ordinary memory", speedup(.snapshot, over: .memory, .pm, workload), atLeast: minimum)
    }
    for (workload, minimum) in [("A", 2.0), ("F", 2.0), ("B", 1.2), ("C", 1.0), ("D", 1.2), ("E", 1.2)] {
      add("pm \(workload): snapshot over pmdk", speedup(.snapshot, over: .pmdk, .pm, workload), atLeast: minimum)
    }
    for (workload, minimum) in [("A", 4.0), ("B", 5.0), ("C", 5.0), ("D", 5.0), ("F", 4.0)] {
      add("cxl \(workload): snapshot over pmdk", speedup(.snapshot, over: .pmdk, .cxl, workload), atLeast: minimum)
    }
    add("file commits, N = 1: snapshot over lmdb", speedup(.snapshot, over: .lmdb, .file, "A"), atLeast: 2)
    add("file commits, N = 1: snapshot over kyoto", speedup(.snapshot, over: .kyoto, .file, "A"), atLeast: 4)
    for interval in [16, 32, 64, 128] {
      add("file commits, N = \(interval): snapshot over kyoto", speedup(.snapshot, over: .kyoto, .file, "A", commitEvery: interval), atLeast: 8)
    }
    if let pages = result(.snapshotPages, .pm, "A")?.writeAmplification, let lines = result(.snapshot, .pm, "A")?.writeAmplification {
      add("pm A: write amplification, snapshot-pages over snapshot", Spread([pages / lines]), atLeast: 20)
    }
    return targets
  }

  func markdown() -> String {
    var lines = ["## \(title)", "", machine.summary, "",
                 "Records of 10 fields x 100 bytes (each table says how many); a commit after every operation unless the table says otherwise; "
                   + "hash map index for A-D and F, B+tree for E (scans). `msync` is POSIX msync on a shared mapping: "
                   + "**not crash-consistent** (a crash can leave any mix of pages). `memory` is the same container in "
                   + "ordinary memory with nothing durable: the limit. `floor` is the same container in ordinary memory "
                   + "with each commit's changed lines streamed, each once, to a log on the medium behind a head of their "
                   + "numbers, and one fence: the commit of a redo log of whole lines, the medium's work alone (no "
                   + "tracking, checksum, home writes or recovery; not crash-consistent). "
                   + (repetitions == 1
                     ? "Each figure is one run."
                     : "Each figure is the median of \(repetitions) runs, their range in parentheses. One repetition runs "
                       + "every engine of a row back to back, each in a process of its own; a ratio is the median of the "
                       + "\(repetitions) repetitions' ratios, their range in parentheses."), ""]
    if device != nil {
      lines += ["Emulated CXL memory: the files live on /dev/shm, and every access an engine makes to them first goes "
                  + "through a model of a memory-semantic SSD: a small, 8-way set-associative DRAM cache of 4 KiB pages "
                  + "in front of flash, where an access to a page outside the cache waits the flash's latency. Snapshot "
                  + "reads and writes its working copy in DRAM and charges its durable writes (log appends, home writes at "
                  + "checkpoints); the baselines charge every load and store the containers make to the file. Kind to the "
                  + "baselines: PMDK's own accesses (its undo log, its allocator's metadata) are not charged, and a hit "
                  + "costs nothing extra, where a real device adds the link's latency to every access that misses the "
                  + "processor's caches.", ""]
    }
    for medium in MediumKind.allCases {
      let engines = YCSBComparison.engines(on: medium).filter { engine in results.contains { $0.engine == engine && $0.medium == medium } }
      let workloads = orderedWorkloads(medium)
      guard !engines.isEmpty, !workloads.isEmpty else { continue }
      let baselines: [EngineKind] = [.pm: [.pmdk, .msync, .memory, .floor], .cxl: [.pmdk, .msync], .file: [.pmdk, .lmdb, .kyoto]][medium]!
      let sizes = results.filter { $0.medium == medium && $0.commitEvery == 1 }
      lines += ["### \(title(of: medium)): operations per second", "",
                "\(sizes.first?.records ?? 0) records loaded, \(operationCounts(of: sizes)) operations per run.", ""]
      lines.append("| workload | " + engines.map(\.rawValue).joined(separator: " | ") + " | " + baselines.map { "snapshot / \($0.rawValue)" }.joined(separator: " | ") + " |")
      lines.append("|---|" + String(repeating: "---|", count: engines.count + baselines.count))
      for workload in workloads {
        let cells = engines.map { engine in result(engine, medium, workload)?.throughput.formattedRate ?? "" }
        let ratios = baselines.map { speedup(.snapshot, over: $0, medium, workload)?.formatted(suffix: "x") ?? "" }
        lines.append("| \(workload) | " + cells.joined(separator: " | ") + " | " + ratios.joined(separator: " | ") + " |")
      }
      let settled = workloads.compactMap { workload -> String? in
        guard let run = result(.snapshot, medium, workload), let settle = run.settleSeconds else { return nil }
        return "\(workload) \(format(settle * 1000)) of \(format(run.runSeconds * 1000)) ms"
      }
      if !settled.isEmpty {
        lines += ["", "Of each snapshot figure's median run, the final checkpoint (timed with the run, as every engine's "
                    + "deferred writes are): " + settled.joined(separator: ", ") + "."]
      }
      if medium == .cxl {
        lines += ["", "Accesses to pages outside the device's cache, per operation (each costs the flash's latency):", ""]
        lines.append("| workload | " + engines.map(\.rawValue).joined(separator: " | ") + " |")
        lines.append("|---|" + String(repeating: "---|", count: engines.count))
        for workload in workloads {
          let cells = engines.map { engine in
            result(engine, medium, workload).flatMap { run in run.deviceMisses.map { format(Double($0) / Double(run.operations)) } } ?? "n/a"
          }
          lines.append("| \(workload) | " + cells.joined(separator: " | ") + " |")
        }
      }
      lines += ["", "Write amplification (bytes written to the medium per byte of user data changed; "
                  + (medium == .file
                    ? "what the disk wrote during the run, by its own counter, the file system's journal included"
                    : "counted by the engine") + "; of the median run):", ""]
      lines.append("| workload | " + engines.map(\.rawValue).joined(separator: " | ") + " |")
      lines.append("|---|" + String(repeating: "---|", count: engines.count))
      for workload in workloads where workload != "C" {
        let cells = engines.map { engine in result(engine, medium, workload)?.writeAmplification.map { format($0) } ?? "n/a" }
        lines.append("| \(workload) | " + cells.joined(separator: " | ") + " |")
      }
      lines.append("")
    }
    let intervals = Set(results.filter { $0.commitEvery > 1 }.map(\.commitEvery)).sorted()
    if !intervals.isEmpty {
      let engines = YCSBComparison.commitRateEngines
      let counts = intervals.compactMap { interval in result(.snapshot, .file, "A", commitEvery: interval).map { "\($0.operations) at N = \(interval)" } }
      lines += ["### Commit rate on a file: workload A, a commit after each operation with probability 1/N (operations per second)", "",
                "Operations per run: as in workload A at N = 1, and enough for the same number of commits at larger N ("
                  + counts.joined(separator: ", ") + "). PMDK is not in this experiment: on a file it syncs at every range it "
                  + "adds to its undo log, not at its commit, so its rate hardly depends on N (its figure is workload A's).", ""]
      lines.append("| N | " + engines.map(\.rawValue).joined(separator: " | ") + " | snapshot / lmdb | snapshot / kyoto |")
      lines.append("|---|" + String(repeating: "---|", count: engines.count + 2))
      for interval in [1] + intervals {
        let cells = engines.map { engine in result(engine, .file, "A", commitEvery: interval)?.throughput.formattedRate ?? "" }
        let ratios = [EngineKind.lmdb, .kyoto].map { speedup(.snapshot, over: $0, .file, "A", commitEvery: interval)?.formatted(suffix: "x") ?? "" }
        lines.append("| \(interval) | " + cells.joined(separator: " | ") + " | " + ratios.joined(separator: " | ") + " |")
      }
      let dips = engines.flatMap { engine in
        zip([1] + intervals, intervals).compactMap { previous, interval -> String? in
          guard let before = result(engine, .file, "A", commitEvery: previous)?.throughput,
            let after = result(engine, .file, "A", commitEvery: interval)?.throughput, after.highest < before.lowest
          else { return nil }
          return "\(engine.rawValue) from N = \(previous) to \(interval)"
        }
      }
      lines += ["", "Fewer commits, more operations per second: " + (dips.isEmpty
        ? "every engine's curve rises or stays level within the range of its runs."
        : "**not** within the range of the runs for " + dips.joined(separator: ", ") + ".")]
      lines.append("")
    }
    lines += ["### Targets", "", "| target | measured | wanted | met |", "|---|---|---|---|"]
    for target in targets {
      let measured = Spread([target.lowest, target.measured, target.highest])!.formatted(suffix: "x")
      lines.append("| \(target.name) | \(measured) | \(target.wanted) | \(target.met ? "yes" : "**no**") |")
    }
    lines += mediumAllowance()
    return lines.joined(separator: "\n")
  }

  /// What the medium allows the targets against ordinary memory: the floor's own ratio over ordinary
  /// memory bounds what any redo msync can reach on this machine, and Snapshot's ratio over the floor
  /// is what its software costs.
  private func mediumAllowance() -> [String] {
    let rows = Self.targetsOverMemory.compactMap { workload, minimum -> String? in
      guard let floor = speedup(.floor, over: .memory, .pm, workload), let ours = speedup(.snapshot, over: .floor, .pm, workload)
      else { return nil }
      let asked = minimum / floor.median
      return "| pm \(workload) | \(floor.formatted(suffix: "x")) | \(ours.formatted(suffix: "x")) | ≥ \(format(minimum))x: "
        + (asked > 1 ? "above the floor" : "\(format(asked))x the floor") + " |"
    }
    guard !rows.isEmpty else { return [] }
    return ["", "### What the medium allows", "",
            "The floor's operations per second over ordinary memory's bound what a redo msync that logs whole lines "
              + "can reach on this machine, even with its home writes free: a target of snapshot over ordinary memory "
              + "above the floor's ratio cannot be met by such a design here. Snapshot over the floor is what "
              + "its own software (tracking, checksums, bookkeeping) and its home writes cost; the last column is "
              + "what each target asks of it.", "",
            "| workload | floor over ordinary memory | snapshot over the floor | target: snapshot over ordinary memory |",
            "|---|---|---|---|"] + rows
  }

  private func title(of medium: MediumKind) -> String {
    switch medium {
    case .pm: return "Persistent memory (/dev/shm, cache-line flushes)"
    case .file: return "An ordinary file (ext4), durable through fdatasync or msync"
    case .cxl:
      let settings = device.map { "a \($0.cacheBytes >> 20) MiB cache, \(format(Double($0.latencyNanoseconds) / 1000)) us per miss" } ?? ""
      return "Emulated CXL memory (persistent memory behind a device latency model: \(settings))"
    }
  }

  /// The operations per run of `runs` (one medium's): "300000", or "300000 (E: 30000)" where a
  /// workload ran a count of its own.
  private func operationCounts(of runs: [YCSBResult]) -> String {
    var workloadsByCount: [Int: Set<String>] = [:]
    for run in runs { workloadsByCount[run.operations, default: []].insert(run.workload) }
    let counts = workloadsByCount.sorted { ($0.value.count, $0.key) > ($1.value.count, $1.key) }
    guard let (common, _) = counts.first else { return "0" }
    let others = counts.dropFirst().map { count, workloads in "\(workloads.sorted().joined(separator: ", ")): \(count)" }
    return others.isEmpty ? "\(common)" : "\(common) (\(others.joined(separator: "; ")))"
  }

  private func orderedWorkloads(_ medium: MediumKind) -> [String] {
    Set(results.filter { $0.medium == medium && $0.commitEvery == 1 }.map(\.workload)).sorted()
  }

  /// Writes ycsb.md, ycsb.json and, when Python with matplotlib is there, the plots.
  func write(to folder: String) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let markdown = markdown()
    try markdown.write(toFile: "\(folder)/ycsb.md", atomically: true, encoding: .utf8)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(to: URL(fileURLWithPath: "\(folder)/ycsb.json"))
    print(markdown)
    printProgress("wrote \(folder)/ycsb.md and \(folder)/ycsb.json")
    plot(folder)
  }

  private func plot(_ folder: String) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../plot.py").standardized.path
    // Debian's python3, where ./setup installs matplotlib, ahead of any other on the PATH.
    let debianPython = "/usr/bin/python3"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: debianPython) ? debianPython : "/usr/bin/env")
    process.arguments = (process.executableURL!.path == debianPython ? [] : ["python3"]) + [script, "\(folder)/ycsb.json", folder]
    do {
      try process.run()
      process.waitUntilExit()
      if process.terminationStatus != 0 { printProgress("no plots: \(script) failed (is matplotlib installed? ./setup installs it)") }
    } catch {
      printProgress("no plots: cannot run python3 (\(error))")
    }
  }
}
