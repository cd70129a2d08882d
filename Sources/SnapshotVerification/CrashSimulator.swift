import Foundation
import Snapshot
import SystemPackage

/// Builds crash images at every ordering point of a recorded run (every fence on persistent memory,
/// every sync on files, wherever the run ends or its process dies), recovers each, and checks that the
/// recovered region holds a committed state: the last acknowledged one, or one taken by a commit since
/// (the one in flight; with threads sharing a region, also one whose msync has not returned yet).
/// Then crashes again at the ordering points of that recovery, recovers, and checks that the second
/// recovery reaches the same state.
package struct CrashSimulator {
  package struct Options: Sendable {
    /// Up to this many uncertain units, every subset of them is tried.
    package var exhaustiveLimit = 12
    /// Random subsets tried at each crash point beyond the systematic ones.
    package var randomSubsets = 12
    /// Crash during the recovery of one distinct image in this many (1: every one).
    package var recoveryCrashEvery = 4
    /// Commit on the recovered region and reopen it, for one distinct image in this many, and for every
    /// image with all uncertain units written.
    package var commitAfterRecoveryEvery = 16
    /// Stop at the first failure (enough to show that a mutant is caught).
    package var stopAtFirstFailure = false
    package var seed: UInt64 = 1

    package init() {}
  }

  package struct Report: Sendable {
    package var crashPoints = 0
    package var crashPointsVisited = 0
    package var exhaustivePoints = 0
    package var sampledPoints = 0
    package var imagesGenerated = 0
    package var imagesDistinct = 0
    package var recoveryCrashImages = 0
    /// Recovered images on which a commit and a close were made, and the region reopened.
    package var commitsAfterRecovery = 0
    package var recoveredStates = Set<Int>()
    /// How often recovery did each kind of work (`RecoveryKind`), with the report of its first time.
    package var recoveries: [RecoveryKind: (count: Int, example: String)] = [:]
    package var failures: [String] = []

    package var images: Int { imagesGenerated + recoveryCrashImages }
  }

  let scenario: Scenario
  let options: Options
  /// Where images are written to be recovered.
  let imagePath: FilePath

  package init(scenario: Scenario, options: Options, scratchDirectory: String) {
    self.scenario = scenario
    self.options = options
    imagePath = FilePath("\(scratchDirectory)/crash-image")
  }

  package func run() -> Report {
    switch scenario.backing {
    case .persistentMemory: return run(model: PersistentMemoryCrashModel(initial: scenario.initialImage))
    case .file: return run(model: FileCrashModel(created: scenario.initialImage))
    }
  }

  private func run<Model: CrashModel>(model initial: Model) -> Report {
    var report = Report()
    report.crashPoints = scenario.trace.reduce(1) { $0 + (Model.isCrashPoint($1) ? 1 : 0) }
    var generator = SeededGenerator(seed: options.seed)
    var model = initial
    var acknowledged = 0
    var inFlight: Int?
    var created = scenario.backing == .persistentMemory
    var seen = Set<ImageKey>()
    for (index, event) in scenario.trace.enumerated() {
      if Model.isCrashPoint(event) {
        let point = CrashPoint(
          name: "event \(index) (\(Self.name(of: event)))", allowed: Array(acknowledged...(inFlight ?? acknowledged)),
          created: created)
        crash(at: point, model: model, seen: &seen, report: &report, generator: &generator)
      }
      switch event {
      case .msyncBegins(let state):
        inFlight = state
      case .msyncReturned(let state):
        // Threads sharing a region may return out of order; a commit that completed but whose
        // msync has not returned yet stays allowed.
        acknowledged = max(acknowledged, state)
        if let newest = inFlight, newest <= acknowledged { inFlight = nil }
      case .recovered(let state):
        acknowledged = state
        inFlight = nil
      case .created:
        created = true
      default:
        break
      }
      if options.stopAtFirstFailure, !report.failures.isEmpty { return report }
      model.apply(event)
    }
    let end = CrashPoint(name: "the end of the run", allowed: [acknowledged], created: created)
    crash(at: end, model: model, seen: &seen, report: &report, generator: &generator)
    return report
  }

  /// Where a crash is simulated, and what recovery may find there: one of the `allowed` states, or,
  /// before creating the region returned, no region at all.
  struct CrashPoint {
    var name: String
    var allowed: [Int]
    var created: Bool
  }

  static func name(of event: TraceEvent) -> String {
    switch event {
    case .fence: return "fence"
    case .processCrash: return "process crash"
    case .fileSync(let file): return "fdatasync of the \(file)"
    case .directorySync: return "directory sync"
    default: return "\(event)"
    }
  }

  /// The images to try at one crash point: for each, the outcome of some uncertain units.
  func choices(units: [(unit: Int, outcomes: Int)], generator: inout SeededGenerator, exhaustive: Bool) -> [[Int: Int]] {
    var result: [[Int: Int]] = []
    let intended = Dictionary(uniqueKeysWithValues: units.map { ($0.unit, 1) })
    if exhaustive {
      for mask in 0..<(1 << units.count) {
        result.append(Dictionary(uniqueKeysWithValues: units.indices.filter { mask & (1 << $0) != 0 }.map { (units[$0].unit, 1) }))
      }
    } else {
      result.append([:])
      result.append(intended)
      let singles = units.count <= 64 ? Array(units.indices) : (0..<32).map { _ in Int.random(in: units.indices, using: &generator) }
      for index in singles {
        result.append([units[index].unit: 1])
        var missing = intended
        missing[units[index].unit] = 0
        result.append(missing)
      }
      for _ in 0..<options.randomSubsets {
        result.append(Dictionary(uniqueKeysWithValues: units.compactMap { unit -> (Int, Int)? in
          Bool.random(using: &generator) ? nil : (unit.unit, Int.random(in: 1...unit.outcomes, using: &generator))
        }))
      }
    }
    // A unit with other possible contents (an earlier value, zeros, garbage) may hold any of them.
    for unit in units where unit.outcomes > 1 {
      for outcome in 2...unit.outcomes {
        result.append([unit.unit: outcome])
        var others = intended
        others[unit.unit] = outcome
        result.append(others)
      }
    }
    return result
  }

  private func crash<Model: CrashModel>(
    at point: CrashPoint, model: Model, seen: inout Set<ImageKey>, report: inout Report, generator: inout SeededGenerator
  ) {
    report.crashPointsVisited += 1
    let units = model.uncertainUnits
    let exhaustive = units.count <= options.exhaustiveLimit
    if exhaustive { report.exhaustivePoints += 1 } else { report.sampledPoints += 1 }
    for choice in choices(units: units, generator: &generator, exhaustive: exhaustive) {
      let image = model.image(choice)
      report.imagesGenerated += 1
      guard seen.insert(ImageKey(image: image, allowed: point.allowed)).inserted else { continue }
      report.imagesDistinct += 1
      let context = "\(scenario.workload) (\(scenario.backing) \(scenario.journal)): crash at \(point.name), "
        + "\(choice.values.filter { $0 > 0 }.count) of \(units.count) uncertain units written"
      guard let outcome = recover(image, model: Model.self, at: point, context: context, report: &report) else {
        if options.stopAtFirstFailure { return }
        continue
      }
      guard let (state, trace) = outcome else { continue }
      report.recoveredStates.insert(state)
      if report.imagesDistinct % options.recoveryCrashEvery == 0 || choice.count == units.count {
        crashDuringRecovery(of: image, model: Model.self, trace: trace, state: state, context: context,
                            report: &report, generator: &generator)
      }
      if report.imagesDistinct % options.commitAfterRecoveryEvery == 0 || choice.count == units.count {
        commitAfterRecovery(of: image, model: Model.self, state: state, context: context, report: &report)
      }
      if options.stopAtFirstFailure, !report.failures.isEmpty { return }
    }
  }

  /// Recovers `image` with a tracing medium carrying the scenario's faults and checks that it reaches
  /// one of the allowed states. Returns nil on a failure, `.some(nil)` when no region was there to
  /// recover (allowed before creation returned), and otherwise the state and the recovery's writes.
  private func recover<Model: CrashModel>(
    _ image: CrashImage, model: Model.Type, at point: CrashPoint, context: String, report: inout Report
  ) -> (state: Int, trace: [TraceEvent])?? {
    do {
      try image.write(to: imagePath)
      guard image.filesPresent else {
        if point.created {
          report.failures.append("\(context): the region's files are gone, though creating it had returned")
          return nil
        }
        return .some(nil)
      }
      let trace = Trace()
      // Recoveries take the processor's write-back instructions in turn, so that the code for machines
      // with only the older ones runs here too (the trace is the same whichever writes lines back).
      let instructions = CPUFeatures.current.flushInstructions
      let region = try Model.open(
        at: imagePath, trace: trace, faults: scenario.faults, emulatingCXL: scenario.emulatesCXL,
        flushInstruction: instructions.isEmpty ? .none : instructions[report.imagesDistinct % instructions.count])
      let recoveryTrace = trace.events
      report.recoveries[RecoveryKind(region.recovery.outcome), default: (0, region.recovery.description)].count += 1
      let epoch = region.epoch
      let data = region.withUnsafeBytes { Array($0) }
      let broken = scenario.invariant?(region)
      region.abandon()
      if let broken {
        report.failures.append("\(context): \(broken)")
        return nil
      }
      guard let state = point.allowed.first(where: { scenario.states[$0].epoch == epoch && scenario.states[$0].data == data }) else {
        let expected = point.allowed.map { scenario.states[$0].epoch }
        let sameData = point.allowed.filter { scenario.states[$0].data == data }.map { scenario.states[$0].epoch }
        report.failures.append("\(context): recovered epoch \(epoch) with "
          + (sameData.isEmpty ? "data of no allowed commit" : "the data of commit \(sameData)")
          + "; allowed: commits \(expected)")
        return nil
      }
      return .some((state, recoveryTrace))
    } catch {
      report.failures.append("\(context): recovery failed: \(error)")
      return nil
    }
  }

  /// Recovers `image` again, commits a change and closes the region, then reopens it: it must hold
  /// that commit. Recovery must leave nothing behind that a later commit or checkpoint would bring back
  /// to life (the size record of a grow that never became durable, a log not retired).
  private func commitAfterRecovery<Model: CrashModel>(
    of image: CrashImage, model: Model.Type, state: Int, context: String, report: inout Report
  ) {
    func open() throws -> Region {
      try Model.open(
        at: imagePath, trace: Trace(), faults: scenario.faults, emulatingCXL: scenario.emulatesCXL,
        flushInstruction: CPUFeatures.current.flushInstructions.first ?? .none)
    }
    do {
      try image.write(to: imagePath)
      let region = try open()
      var expected = scenario.states[state].data
      expected[0] = ~expected[0]
      region.store(expected[0], at: 0)
      try region.msync()
      try region.close()
      let reopened = try open()
      let epoch = reopened.epoch
      let data = reopened.withUnsafeBytes { Array($0) }
      reopened.abandon()
      report.commitsAfterRecovery += 1
      if epoch != scenario.states[state].epoch + 1 || data != expected {
        let found = data.count != expected.count ? "\(data.count) bytes, not \(expected.count)" : data == expected ? "its data" : "other data"
        report.failures.append(
          "\(context): recovered commit \(scenario.states[state].epoch), committed once more and closed; reopening found epoch \(epoch) with \(found)")
      }
    } catch {
      report.failures.append("\(context): committing on the recovered region failed: \(error)")
    }
  }

  private func crashDuringRecovery<Model: CrashModel>(
    of image: CrashImage, model: Model.Type, trace: [TraceEvent], state: Int, context: String,
    report: inout Report, generator: inout SeededGenerator
  ) {
    var model = Model(initial: image)
    let point = CrashPoint(name: "", allowed: [state], created: true)
    for (index, event) in trace.enumerated() {
      if Model.isCrashPoint(event) {
        let intended = Dictionary(uniqueKeysWithValues: model.uncertainUnits.map { ($0.unit, 1) })
        var picks: [[Int: Int]] = [[:], intended]
        for _ in 0..<3 {
          picks.append(intended.filter { _ in Bool.random(using: &generator) })
        }
        for pick in picks {
          report.recoveryCrashImages += 1
          _ = recover(model.image(pick), model: Model.self, at: point,
                      context: "\(context), then a crash at recovery event \(index)", report: &report)
        }
      }
      model.apply(event)
    }
  }
}

/// The kinds of work recovery does, for counting: `RecoveryReport.Outcome` without its numbers.
package enum RecoveryKind: String, CaseIterable, Sendable {
  case clean, rolledBack = "rolled back", abandoned = "abandoned", replayed

  init(_ outcome: RecoveryReport.Outcome) {
    switch outcome {
    case .clean: self = .clean
    case .rolledBack: self = .rolledBack
    case .abandonedIncompleteCommit: self = .abandoned
    case .replayed: self = .replayed
    }
  }
}

/// An image and what may be recovered from it, hashed for deduplication.
struct ImageKey: Hashable {
  let low: UInt32
  let high: UInt32
  let allowed: [Int]

  init(image: CrashImage, allowed: [Int]) {
    var low = image.data.withUnsafeBytes { CRC32C.checksum($0) }
    var high = image.data.withUnsafeBytes { CRC32C.update(0x5EED, $0) }
    if let log = image.log {
      low = log.withUnsafeBytes { CRC32C.update(low, $0) }
      high = log.withUnsafeBytes { CRC32C.update(~high, $0) }
    }
    self.low = image.filesPresent ? low : 0
    self.high = image.filesPresent ? high : 0
    self.allowed = allowed
  }
}
