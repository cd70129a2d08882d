import Foundation

/// The comparison's tables, targets, JSON and plots.
struct YCSBReport: Codable {
  struct Target: Codable {
    var name: String
    var measured: Double
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

  /// `engine`'s throughput over `baseline`'s.
  func speedup(_ engine: EngineKind, over baseline: EngineKind, _ medium: MediumKind, _ workload: String, commitEvery: Int = 1) -> Double? {
    guard let ours = result(engine, medium, workload, commitEvery: commitEvery),
      let theirs = result(baseline, medium, workload, commitEvery: commitEvery)
    else { return nil }
    return ours.operationsPerSecond / theirs.operationsPerSecond
  }

  private func computeTargets() -> [Target] {
    var targets: [Target] = []
    func add(_ name: String, _ measured: Double?, atLeast minimum: Double) {
      guard let measured else { return }
      targets.append(Target(name: name, measured: measured, wanted: "≥ \(format(minimum))x", met: measured >= minimum))
    }
    for (workload, minimum) in [("A", 2.0), ("F", 2.0), ("B", 1.2), ("D", 1.2), ("E", 1.2)] {
      add("pm \(workload): snapshot over pmdk", speedup(.snapshot, over: .pmdk, .pm, workload), atLeast: minimum)
    }
    for workload in ["A", "B", "C", "D", "F"] {
      add("cxl \(workload): snapshot over pmdk", speedup(.snapshot, over: .pmdk, .cxl, workload), atLeast: 5)
    }
    if let limit = speedup(.memory, over: .snapshot, .pm, "C") {
      targets.append(Target(name: "pm C: ordinary memory over snapshot", measured: limit, wanted: "≤ 1.10x", met: limit <= 1.1))
    }
    add("pm C: snapshot over pmdk", speedup(.snapshot, over: .pmdk, .pm, "C"), atLeast: 1)
    add("file commits, N = 1: snapshot over lmdb", speedup(.snapshot, over: .lmdb, .file, "A"), atLeast: 2)
    add("file commits, N = 1: snapshot over kyoto", speedup(.snapshot, over: .kyoto, .file, "A"), atLeast: 4)
    for interval in [16, 32, 64, 128] {
      add("file commits, N = \(interval): snapshot over kyoto", speedup(.snapshot, over: .kyoto, .file, "A", commitEvery: interval), atLeast: 8)
    }
    if let pages = result(.snapshotPages, .pm, "A")?.writeAmplification, let lines = result(.snapshot, .pm, "A")?.writeAmplification {
      add("pm A: write amplification, snapshot-pages over snapshot", pages / lines, atLeast: 20)
    }
    return targets
  }

  func markdown() -> String {
    var lines = ["## \(title)", "", machine.summary, "",
                 "Records of 10 fields x 100 bytes (each table says how many); a commit after every operation unless the table says otherwise; "
                   + "hash map index for A-D and F, B+tree for E (scans). `msync` is POSIX msync on a shared mapping: "
                   + "**not crash-consistent** (a crash can leave any mix of pages). `memory` is the same container in "
                   + "ordinary memory with nothing durable: the limit. "
                   + (repetitions == 1 ? "Each figure is one run." : "Each figure is the median of \(repetitions) runs."), ""]
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
      let baselines: [EngineKind] = [.pm: [.pmdk, .msync, .memory], .cxl: [.pmdk, .msync], .file: [.pmdk, .lmdb, .kyoto]][medium]!
      let sizes = results.filter { $0.medium == medium && $0.commitEvery == 1 }
      lines += ["### \(title(of: medium)): operations per second", "",
                "\(sizes.first?.records ?? 0) records loaded, \(sizes.first?.operations ?? 0) operations per run.", ""]
      lines.append("| workload | " + engines.map(\.rawValue).joined(separator: " | ") + " | " + baselines.map { "snapshot / \($0.rawValue)" }.joined(separator: " | ") + " |")
      lines.append("|---|" + String(repeating: "---|", count: engines.count + baselines.count))
      for workload in workloads {
        let cells = engines.map { engine in result(engine, medium, workload).map { format($0.operationsPerSecond) } ?? "" }
        let ratios = baselines.map { speedup(.snapshot, over: $0, medium, workload).map { format($0) + "x" } ?? "" }
        lines.append("| \(workload) | " + cells.joined(separator: " | ") + " | " + ratios.joined(separator: " | ") + " |")
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
                  + (medium == .file ? "the kernel's write_bytes of the process" : "counted by the engine") + "):", ""]
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
      let engines = YCSBComparison.engines(on: .file)
      lines += ["### Commit rate on a file: workload A, a commit after each operation with probability 1/N (operations per second)", ""]
      lines.append("| N | " + engines.map(\.rawValue).joined(separator: " | ") + " | snapshot / lmdb | snapshot / kyoto |")
      lines.append("|---|" + String(repeating: "---|", count: engines.count + 2))
      for interval in [1] + intervals {
        let cells = engines.map { engine in result(engine, .file, "A", commitEvery: interval).map { format($0.operationsPerSecond) } ?? "" }
        let ratios = [EngineKind.lmdb, .kyoto].map { speedup(.snapshot, over: $0, .file, "A", commitEvery: interval).map { format($0) + "x" } ?? "" }
        lines.append("| \(interval) | " + cells.joined(separator: " | ") + " | " + ratios.joined(separator: " | ") + " |")
      }
      lines.append("")
    }
    lines += ["### Targets", "", "| target | measured | wanted | met |", "|---|---|---|---|"]
    for target in targets {
      lines.append("| \(target.name) | \(format(target.measured))x | \(target.wanted) | \(target.met ? "yes" : "**no**") |")
    }
    return lines.joined(separator: "\n")
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
