import Foundation
import Snapshot

/// Everything that checks the crash guarantee, run together: the crash simulator over every workload
/// and journal, the mutants, the SIGKILL loop and the recovery fuzzer.
package struct Reliability: Sendable {
  package var seeds: [UInt64] = [11, 12, 13]
  package var scale = 1
  /// Run simulations with further seeds until at least this many crash images were recovered.
  package var minimumImages = 0
  package var recoveryCrashEvery = 4
  package var kills = 200
  package var fuzzCases = 100_000
  package var storeFuzzCases = 100_000
  /// End the run at the first failure (each part stops at its first, and no part starts after one):
  /// for checking planted bugs, where only whether one is caught matters.
  package var stopAtFirstFailure = false
  /// The parts to run; all of them unless a caller picks some.
  package var phases = Set(Phase.allCases)
  /// The mutants to run.
  package var mutants = Mutant.all
  /// Simulator workloads, by name, left out.
  package var skippedWorkloads: Set<String> = []
  /// The media and journals the simulator runs each workload on (those a workload can run on).
  package var configurations = Workload.Configuration.simulated
  /// The `snapshot crash-test-worker` command the kill loop runs as its child.
  package var worker: [String]
  /// A directory on an ordinary file system, for the kill loop of the file medium.
  package var diskDirectory: String

  package init(worker: [String], diskDirectory: String) {
    self.worker = worker
    self.diskDirectory = diskDirectory
  }

  /// The settings for long runs: at least 10^7 crash images, every recovery crashed, more kills and fuzz.
  package mutating func soak() {
    minimumImages = 10_000_000
    recoveryCrashEvery = 1
    kills = 2_000
    fuzzCases = 2_000_000
    storeFuzzCases = 2_000_000
  }

  /// The parts of a run.
  package enum Phase: String, CaseIterable, Sendable {
    case simulator, mutants, kills, fuzz
    case storeFuzz = "store-fuzz"

    /// The progress line that starts the part.
    package var heading: String {
      switch self {
      case .simulator: "crash simulator (persistent-memory model)"
      case .mutants: "mutants"
      case .kills: "SIGKILL loop"
      case .fuzz: "recovery fuzzing"
      case .storeFuzz: "store fuzzing"
      }
    }
  }

  /// The targets a run must meet beyond having no failures.
  package struct Targets: Sendable {
    package var images = 100_000
    package var killsPerJournal = 200
    package var fuzzCases = 100_000
    package var storeFuzzCases = 100_000

    package init() {}
  }

  package func run(directory: String, progress: (String) -> Void) throws -> ReliabilityReport {
    var report = ReliabilityReport()
    report.phases = phases
    let start = Date()

    func stopping() -> Bool { stopAtFirstFailure && !report.failures.isEmpty }
    /// Runs a part, when it was asked for and no failure ends the run, and times it.
    func part(_ phase: Phase, timedAs name: String, _ body: () throws -> Void) rethrows {
      guard phases.contains(phase), !stopping() else { return }
      let partStart = Date()
      progress(phase.heading)
      try body()
      report.seconds[name] = Date().timeIntervalSince(partStart)
    }

    try part(.simulator, timedAs: "crash simulator") {
      var simulation = Simulation()
      simulation.scale = scale
      simulation.skipping = skippedWorkloads
      simulation.configurations = configurations
      simulation.options.recoveryCrashEvery = recoveryCrashEvery
      simulation.options.stopAtFirstFailure = stopAtFirstFailure
      var nextSeed = (seeds.max() ?? 0) + 1
      var pending = seeds
      while !pending.isEmpty {
        simulation.seeds = pending
        report.simulations += try simulation.run(scratchDirectory: directory, progress: progress)
        pending = report.images < minimumImages && !stopping() ? [nextSeed] : []
        nextSeed += 1
      }
    }

    try part(.mutants, timedAs: "mutants") {
      for mutant in mutants where !stopping() {
        let outcome = try mutant.run(seed: seeds.first ?? 1, scale: scale, scratchDirectory: directory)
        progress("  \(mutant.name): \(outcome.caughtBy == nil ? (mutant.equivalentBecause == nil ? "NOT CAUGHT" : "equivalent") : "caught")")
        report.mutants.append(outcome)
      }
    }

    try part(.kills, timedAs: "SIGKILL loop") {
      // Each medium and journal, then SQLite on the snapshot VFS on each medium (half as many kills:
      // each child opens a database first).
      let loops = Workload.Configuration.all.map { ($0, false) }
        + [Workload.Configuration(.persistentMemory, .redo), Workload.Configuration(.file, .redo)].map { ($0, true) }
      for (configuration, sql) in loops where !stopping() {
        var loop = KillLoop()
        loop.stopAtFirstFailure = stopAtFirstFailure
        loop.iterations = sql ? max(1, kills / 2) : kills
        loop.configuration = configuration
        loop.sql = sql
        let name = "\(configuration)\(sql ? ", SQLite" : "")"
        let folder = configuration.backing == .file ? diskDirectory : directory
        report.kills.append((name, try loop.run(worker: worker, directory: folder) { kill in
          if kill.iteration % 100 == 0 { progress("  \(name): \(kill.iteration) kills") }
        }))
      }
    }

    try part(.fuzz, timedAs: "recovery fuzzing") {
      var fuzzer = RecoveryFuzzer()
      fuzzer.cases = fuzzCases
      report.fuzz = try fuzzer.run(directory: directory, progress: progress)
    }

    try part(.storeFuzz, timedAs: "store fuzzing") {
      var fuzzer = StoreFuzzer()
      fuzzer.cases = storeFuzzCases
      report.storeFuzz = try fuzzer.run(directory: directory, progress: progress)
    }
    report.seconds["total"] = Date().timeIntervalSince(start)
    return report
  }
}

/// The figures of a reliability run.
package struct ReliabilityReport: Sendable {
  package var simulations: [Simulation.Result] = []
  package var mutants: [Mutant.Outcome] = []
  /// Each kill loop, named by its medium and journal (and ", SQLite" for the SQL subject).
  package var kills: [(String, KillLoop.Report)] = []
  package var fuzz = RecoveryFuzzer.Report()
  package var storeFuzz = StoreFuzzer.Report()
  /// The parts that ran.
  package var phases = Set(Reliability.Phase.allCases)
  package var seconds: [String: Double] = [:]

  /// Crash images recovered: distinct images at crash points plus images of crashes during recovery.
  package var images: Int {
    simulations.reduce(0) { $0 + $1.report.imagesDistinct + $1.report.recoveryCrashImages }
  }

  package var failures: [String] {
    var failures: [String] = simulations.flatMap { $0.checkFailures + $0.report.failures }
    for outcome in mutants where outcome.caughtBy == nil && outcome.mutant.equivalentBecause == nil {
      failures.append("mutant not caught: \(outcome.mutant.name)")
    }
    for (_, kill) in kills { failures += kill.failures }
    return failures + fuzz.failures + storeFuzz.failures
  }

  /// The targets this run missed, beyond its failures: every crash point visited, every mutant that
  /// can be caught caught, enough images, kills and fuzz cases.
  package func missed(_ targets: Reliability.Targets) -> [String] {
    var missed: [String] = []
    if !allCrashPointsVisited { missed.append("not every crash point was visited") }
    if phases.contains(.simulator), images < targets.images {
      missed.append("\(images) crash images, fewer than \(targets.images)")
    }
    for (name, kill) in kills where kill.iterations < (name.hasSuffix("SQLite") ? targets.killsPerJournal / 2 : targets.killsPerJournal) || kill.insideMsync == 0 {
      missed.append("\(kill.iterations) kills on \(name), \(kill.insideMsync) inside msync")
    }
    if phases.contains(.fuzz), fuzz.cases < targets.fuzzCases {
      missed.append("\(fuzz.cases) fuzz cases, fewer than \(targets.fuzzCases)")
    }
    if phases.contains(.storeFuzz), storeFuzz.cases < targets.storeFuzzCases {
      missed.append("\(storeFuzz.cases) store fuzz cases, fewer than \(targets.storeFuzzCases)")
    }
    return missed
  }

  package var allCrashPointsVisited: Bool {
    simulations.allSatisfy { $0.report.crashPointsVisited == $0.report.crashPoints }
  }

  package func markdown() -> String {
    var lines: [String] = []
    lines.append("### Crash simulator")
    lines.append("")
    lines.append("| workload | medium and journal | operations | msyncs | crash points visited | exhaustive / sampled points | images generated | distinct images | recovery-crash images | distinct states recovered | failures | seconds |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    let grouped = Dictionary(grouping: simulations) { "\($0.workload)|\($0.configuration)" }
    for key in grouped.keys.sorted() {
      let runs = grouped[key]!
      let total = runs.reduce(into: CrashSimulator.Report()) { sum, run in
        sum.crashPoints += run.report.crashPoints
        sum.crashPointsVisited += run.report.crashPointsVisited
        sum.exhaustivePoints += run.report.exhaustivePoints
        sum.sampledPoints += run.report.sampledPoints
        sum.imagesGenerated += run.report.imagesGenerated
        sum.imagesDistinct += run.report.imagesDistinct
        sum.recoveryCrashImages += run.report.recoveryCrashImages
        sum.failures += run.report.failures + run.checkFailures
      }
      let states = runs.reduce(0) { $0 + $1.report.recoveredStates.count }
      lines.append("| \(runs[0].workload) (\(runs.count) seed\(runs.count == 1 ? "" : "s")) | \(runs[0].configuration) | "
        + "\(runs.reduce(0) { $0 + $1.operations }) | \(runs.reduce(0) { $0 + $1.msyncs }) | "
        + "\(total.crashPointsVisited) of \(total.crashPoints) | \(total.exhaustivePoints) / \(total.sampledPoints) | "
        + "\(total.imagesGenerated) | \(total.imagesDistinct) | \(total.recoveryCrashImages) | \(states) | "
        + "\(total.failures.count) | \(String(format: "%.1f", runs.reduce(0) { $0 + $1.seconds })) |")
    }
    lines.append("")
    lines.append("Crash images recovered in all: \(images); every crash point visited: \(allCrashPointsVisited ? "yes" : "no").")
    lines.append("")
    var recoveries: [RecoveryKind: (count: Int, example: String)] = [:]
    for run in simulations {
      recoveries.merge(run.report.recoveries) { ($0.count + $1.count, $0.example) }
    }
    lines.append("What recovery did: " + RecoveryKind.allCases.map { kind in
      guard let seen = recoveries[kind] else { return "\(kind.rawValue) never" }
      return "\(kind.rawValue) \(seen.count) times (first: \"\(seen.example)\")"
    }.joined(separator: "; ") + ".")
    lines.append("")
    let catchable = mutants.filter { $0.mutant.equivalentBecause == nil }
    lines.append("### Mutants: \(catchable.filter { $0.caughtBy != nil }.count) of \(catchable.count) caught")
    lines.append("")
    lines.append("| mutant | caught by (the first failing image or check) | images tried |")
    lines.append("|---|---|---|")
    for outcome in mutants {
      let verdict = outcome.caughtBy ?? (outcome.mutant.equivalentBecause.map { "equivalent, not counted: \($0)" } ?? "**NOT CAUGHT**")
      lines.append("| \(outcome.mutant.name) | \(verdict.replacingOccurrences(of: "|", with: "/")) | \(outcome.imagesTried) |")
    }
    lines.append("")
    lines.append("### SIGKILL loop")
    lines.append("")
    lines.append("| medium and journal | kills | inside msync (COMMIT, for SQLite) | highest epoch (transfer) acknowledged | failures |")
    lines.append("|---|---|---|---|---|")
    for (name, kill) in kills {
      lines.append("| \(name) | \(kill.iterations) | \(kill.insideMsync) | \(kill.commitsAcknowledged) | \(kill.failures.count) |")
    }
    lines.append("")
    lines.append("### Recovery fuzzing")
    lines.append("")
    lines.append("\(fuzz.cases) corrupted files (\(fuzz.structuredCases) of them structured: each built to reach one check "
      + "of recovery and held to the outcome it must have): \(fuzz.typedErrors) refused with a typed error, \(fuzz.recovered) opened "
      + "holding a committed state, \(fuzz.dataAreaOpened) opened after a change to the data area alone (which "
      + "carries no checksum, so only the absence of a trap is checked), \(fuzz.unverifiableOpened) opened no older than "
      + "the commits still proven after damage to the records of a change already half home (a crash image inside a "
      + "redo checkpoint or after an undo commit's first fence: those records are the only evidence of which lines "
      + "changed, so the state is not checked), \(fuzz.failures.count) failures, no trap.")
    lines.append("")
    lines.append("### Store fuzzing")
    lines.append("")
    lines.append("\(storeFuzz.cases) stores with a corrupted data area, each opened and put through get, scan, put, "
      + "replace, delete and the full check: \(storeFuzz.refusedAtOpen) refused at open, \(storeFuzz.refused) refused "
      + "by an operation or the check with a typed error, \(storeFuzz.passed) passed every operation (the corruption "
      + "hit bytes the store does not depend on), \(storeFuzz.failures.count) failures, no trap, no case over its "
      + "time limit.")
    lines.append("")
    lines.append("### Wall time")
    lines.append("")
    for (phase, seconds) in seconds.sorted(by: { $0.key < $1.key }) {
      lines.append("- \(phase): \(String(format: "%.1f", seconds)) s")
    }
    let failures = self.failures
    if !failures.isEmpty {
      lines.append("")
      lines.append("### Failures (first 20)")
      lines.append("")
      lines += failures.prefix(20).map { "- \($0)" }
    }
    return lines.joined(separator: "\n")
  }

  /// What the crash images assume about the hardware.
  package static let modelAssumptions = """
    Persistent memory:
    - The medium persists aligned 8-byte units atomically; nothing larger is atomic.
    - A unit stored to but not yet written back (flush) and ordered (fence) may hold, after a crash, \
    its last durable value or any value stored to it since, independently of every other unit.
    - A flush followed by a fence makes the flushed value durable; a non-temporal store is durable \
    after the next fence.
    - Crash points are the fences of a run (and of every recovery), the points where its process is \
    killed, and its end; between two fences, the images at the later fence cover every earlier crash.

    Files:
    - A write is durable once a later fdatasync of its file has returned; until then each 512-byte \
    sector it touches may hold the new bytes or the old ones, independently of every other sector.
    - A sector beyond the file's durable end (an append) may also hold zeros or garbage.
    - The names of newly created files are durable once their directory was synced.
    - Crash points are the syncs of a run (and of every recovery), the directory sync at creation, the \
    points where its process is killed, and its end.

    Both:
    - A process crash (SIGKILL) loses nothing that was stored or written: the machine keeps running.
    """
}
