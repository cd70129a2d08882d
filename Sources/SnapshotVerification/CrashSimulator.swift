import Foundation
import Snapshot
import SystemPackage

/// Builds crash images at every fence of a recorded run (and wherever the run ends or its process
/// dies), recovers each, and checks that the recovered region holds a committed state: the last
/// acknowledged one, or the one whose msync was in flight. Then crashes again at the fences of that
/// recovery, recovers, and checks that the second recovery reaches the same state.
package struct CrashSimulator {
  package struct Options: Sendable {
    /// Up to this many uncertain units, every subset of them is tried.
    package var exhaustiveLimit = 12
    /// Random subsets tried at each crash point beyond the systematic ones.
    package var randomSubsets = 12
    /// Crash during the recovery of one distinct image in this many (1: every one).
    package var recoveryCrashEvery = 4
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
    package var recoveredStates = Set<Int>()
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
    var report = Report()
    report.crashPoints = scenario.trace.reduce(1) { total, event in
      total + (event == .fence || event == .processCrash ? 1 : 0)
    }
    var generator = SeededGenerator(seed: options.seed)
    var model = PersistentMemoryCrashModel(initialImage: scenario.initialImage)
    var acknowledged = 0
    var inFlight: Int?
    var seen = Set<ImageKey>()
    for (index, event) in scenario.trace.enumerated() {
      switch event {
      case .fence, .processCrash:
        let allowed = [acknowledged] + (inFlight.map { [$0] } ?? [])
        crash(at: "event \(index) (\(event == .fence ? "fence" : "process crash"))", model: model, allowed: allowed,
              seen: &seen, report: &report, generator: &generator)
      case .msyncBegins(let state):
        inFlight = state
      case .msyncReturned(let state), .recovered(let state):
        acknowledged = state
        inFlight = nil
      default:
        break
      }
      if options.stopAtFirstFailure, !report.failures.isEmpty { return report }
      model.apply(event)
    }
    crash(at: "the end of the run", model: model, allowed: [acknowledged], seen: &seen, report: &report, generator: &generator)
    return report
  }

  /// The images to try at one crash point, as choices of a value for some uncertain units.
  func choices(units: [(unit: Int, valueCount: Int)], generator: inout SeededGenerator, exhaustive: Bool) -> [PersistentMemoryCrashModel.Choice] {
    let latest = { (unit: (unit: Int, valueCount: Int)) -> (Int, Int?) in (unit.unit, unit.valueCount - 1) }
    var result: [PersistentMemoryCrashModel.Choice] = []
    if exhaustive {
      for mask in 0..<(1 << units.count) {
        result.append(Dictionary(uniqueKeysWithValues: units.indices.filter { mask & (1 << $0) != 0 }.map { latest(units[$0]) }))
      }
    } else {
      let all = Dictionary(uniqueKeysWithValues: units.map(latest))
      result.append([:])
      result.append(all)
      let singles = units.count <= 64 ? Array(units.indices) : (0..<32).map { _ in Int.random(in: units.indices, using: &generator) }
      for index in singles {
        result.append(Dictionary(uniqueKeysWithValues: [latest(units[index])]))
        var missing = all
        missing[units[index].unit] = .some(nil)
        result.append(missing)
      }
      for _ in 0..<options.randomSubsets {
        result.append(Dictionary(uniqueKeysWithValues: units.compactMap { unit -> (Int, Int?)? in
          Bool.random(using: &generator) ? nil : (unit.unit, Int.random(in: 0..<unit.valueCount, using: &generator))
        }))
      }
    }
    // A unit stored to more than once since it was durable may hold any of its values.
    for unit in units where unit.valueCount > 1 {
      for value in 0..<unit.valueCount - 1 {
        result.append([unit.unit: value])
        var others = Dictionary(uniqueKeysWithValues: units.map(latest))
        others[unit.unit] = value
        result.append(others)
      }
    }
    return result
  }

  private func crash(
    at point: String, model: PersistentMemoryCrashModel, allowed: [Int],
    seen: inout Set<ImageKey>, report: inout Report, generator: inout SeededGenerator
  ) {
    report.crashPointsVisited += 1
    let units = model.uncertainUnits
    let exhaustive = units.count <= options.exhaustiveLimit
    if exhaustive { report.exhaustivePoints += 1 } else { report.sampledPoints += 1 }
    for choice in choices(units: units, generator: &generator, exhaustive: exhaustive) {
      let image = model.image(choice)
      report.imagesGenerated += 1
      guard seen.insert(ImageKey(image: image, allowed: allowed)).inserted else { continue }
      report.imagesDistinct += 1
      let context = "\(scenario.workload) (\(scenario.journal)): crash at \(point), "
        + "\(choice.values.filter { $0 != nil }.count) of \(units.count) uncertain units persisted"
      guard let outcome = recover(image, allowed: allowed, context: context, report: &report) else {
        if options.stopAtFirstFailure { return }
        continue
      }
      report.recoveredStates.insert(outcome.state)
      if report.imagesDistinct % options.recoveryCrashEvery == 0 || choice.count == units.count {
        crashDuringRecovery(of: image, trace: outcome.trace, state: outcome.state, context: context,
                            report: &report, generator: &generator)
      }
      if options.stopAtFirstFailure, !report.failures.isEmpty { return }
    }
  }

  /// Recovers `image` with a tracing medium carrying the scenario's faults; checks that it reaches
  /// one of the `allowed` states; returns that state and the recovery's durable writes.
  private func recover(_ image: [UInt8], allowed: [Int], context: String, report: inout Report) -> (state: Int, trace: [TraceEvent])? {
    do {
      try Data(image).write(to: URL(fileURLWithPath: imagePath.string))
      let trace = Trace()
      let region = try TracingMedium.open(at: imagePath, trace: trace, faults: scenario.faults)
      let recoveryTrace = trace.events
      let epoch = region.epoch
      let data = region.withUnsafeBytes { Array($0) }
      region.abandon()
      guard let state = allowed.first(where: { scenario.states[$0].epoch == epoch && scenario.states[$0].data == data }) else {
        let expected = allowed.map { scenario.states[$0].epoch }
        let sameData = allowed.filter { scenario.states[$0].data == data }.map { scenario.states[$0].epoch }
        report.failures.append("\(context): recovered epoch \(epoch) with "
          + (sameData.isEmpty ? "data of no allowed commit" : "the data of commit \(sameData)")
          + "; allowed: commits \(expected)")
        return nil
      }
      return (state, recoveryTrace)
    } catch {
      report.failures.append("\(context): recovery failed: \(error)")
      return nil
    }
  }

  private func crashDuringRecovery(
    of image: [UInt8], trace: [TraceEvent], state: Int, context: String,
    report: inout Report, generator: inout SeededGenerator
  ) {
    var model = PersistentMemoryCrashModel(initialImage: image)
    for (index, event) in trace.enumerated() {
      if event == .fence {
        let units = model.uncertainUnits
        let all = Dictionary(uniqueKeysWithValues: units.map { ($0.unit, Optional($0.valueCount - 1)) })
        var picks: [PersistentMemoryCrashModel.Choice] = [[:], all]
        for _ in 0..<3 {
          picks.append(all.filter { _ in Bool.random(using: &generator) })
        }
        for pick in picks {
          report.recoveryCrashImages += 1
          _ = recover(model.image(pick), allowed: [state], context: "\(context), then a crash at recovery event \(index)",
                      report: &report)
        }
      }
      model.apply(event)
    }
  }
}

/// An image and what may be recovered from it, hashed for deduplication.
struct ImageKey: Hashable {
  let low: UInt32
  let high: UInt32
  let allowed: [Int]

  init(image: [UInt8], allowed: [Int]) {
    (low, high) = image.withUnsafeBytes { raw in
      (CRC32C.checksum(raw), CRC32C.update(0x5EED, raw))
    }
    self.allowed = allowed
  }
}
