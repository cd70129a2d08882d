import Foundation
import SystemPackage
@testable import Snapshot

/// Builds crash images at every fence of a recorded run, recovers each one, and checks that the
/// recovered data equals a committed state: the last acknowledged commit, or the one in flight. Then
/// crashes again at every fence of that recovery, recovers, and checks again.
struct CrashSimulator {
  /// The region file as it was before the traced run started.
  var initialImage: [UInt8]
  /// The traced run.
  var trace: [TraceEvent]
  /// The data bytes of every acknowledged commit, by epoch (epoch 0: the state the run started from).
  var committedStates: [UInt64: [UInt8]]
  /// Where crash images are written to be recovered.
  var directory: TestDirectory
  var seed: UInt64 = 1
  /// Up to this many units, every subset of the uncertain units is tried.
  var exhaustiveLimit = 8
  /// Random subsets tried at each crash point beyond the systematic ones.
  var randomSubsets = 12

  struct Report {
    var crashPoints = 0
    var imagesGenerated = 0
    var imagesRecovered = 0
    var recoveryCrashImages = 0
    var recoveredStates = Set<UInt64>()
    var failures: [String] = []
  }

  func run() -> Report {
    var report = Report()
    var generator = SeededGenerator(seed: seed)
    var model = PersistentMemoryCrashModel(initialImage: initialImage)
    var acknowledged: UInt64 = 0
    var inFlight = false
    var seen = Set<Int>()
    for (index, event) in trace.enumerated() {
      switch event {
      case .fence:
        let allowed = inFlight ? [acknowledged, acknowledged + 1] : [acknowledged]
        crash(at: "event \(index)", model: model, allowed: allowed, seen: &seen, report: &report, generator: &generator)
      case .msyncBegins:
        inFlight = true
      case .msyncReturned(let epoch):
        acknowledged = epoch
        inFlight = false
      default:
        break
      }
      model.apply(event)
    }
    crash(at: "end", model: model, allowed: [acknowledged], seen: &seen, report: &report, generator: &generator)
    return report
  }

  /// The subsets of uncertain units to persist at one crash point.
  func choices(unitCount count: Int, generator: inout SeededGenerator) -> [[Int]] {
    if count <= exhaustiveLimit {
      return (0..<(1 << count)).map { mask in (0..<count).filter { mask & (1 << $0) != 0 } }
    }
    var result: [[Int]] = [[], Array(0..<count)]
    let systematic = count <= 64 ? Array(0..<count) : (0..<16).map { _ in Int.random(in: 0..<count, using: &generator) }
    for unit in systematic {
      result.append([unit])
      result.append((0..<count).filter { $0 != unit })
    }
    for _ in 0..<randomSubsets {
      result.append((0..<count).filter { _ in Bool.random(using: &generator) })
    }
    return result
  }

  private func crash(
    at point: String, model: PersistentMemoryCrashModel, allowed: [UInt64],
    seen: inout Set<Int>, report: inout Report, generator: inout SeededGenerator
  ) {
    report.crashPoints += 1
    let units = model.pendingUnits
    for choice in choices(unitCount: units.count, generator: &generator) {
      let image = model.image(persisting: choice.map { units[$0] })
      report.imagesGenerated += 1
      var hasher = Hasher()
      hasher.combine(image)
      hasher.combine(allowed)
      guard seen.insert(hasher.finalize()).inserted else { continue }
      report.imagesRecovered += 1
      let context = "crash at \(point), persisting \(choice.count) of \(units.count) uncertain units"
      guard let recoveryTrace = recover(image, allowed: allowed, context: context, report: &report) else { continue }
      if report.imagesRecovered % 4 == 1 {
        crashDuringRecovery(image: image, trace: recoveryTrace, allowed: allowed, context: context,
                            report: &report, generator: &generator)
      }
    }
  }

  /// Recovers `image` with a tracing medium and checks the result; returns the recovery's trace.
  @discardableResult
  private func recover(_ image: [UInt8], allowed: [UInt64], context: String, report: inout Report) -> [TraceEvent]? {
    let path = directory.file("crash-image")
    do {
      try Data(image).write(to: path)
      let (region, tracer) = try TracingMedium.open(at: path)
      let events = tracer.events
      let data = region.withUnsafeBytes { Array($0) }
      try region.close()
      let epoch = region.epoch
      guard allowed.contains(epoch) else {
        report.failures.append("\(context): recovered epoch \(epoch), but only commits \(allowed) are allowed")
        return nil
      }
      guard committedStates[epoch] == data else {
        let matching = allowed.filter { committedStates[$0] == data }
        report.failures.append("\(context): reports epoch \(epoch) but its data matches commits \(matching)")
        return nil
      }
      report.recoveredStates.insert(epoch)
      return events
    } catch {
      report.failures.append("\(context): recovery failed: \(error)")
      return nil
    }
  }

  private func crashDuringRecovery(
    image: [UInt8], trace: [TraceEvent], allowed: [UInt64], context: String,
    report: inout Report, generator: inout SeededGenerator
  ) {
    var model = PersistentMemoryCrashModel(initialImage: image)
    for (index, event) in trace.enumerated() {
      if event == .fence {
        let units = model.pendingUnits
        var picks: [[Int]] = [[], Array(0..<units.count)]
        for _ in 0..<3 { picks.append((0..<units.count).filter { _ in Bool.random(using: &generator) }) }
        for pick in picks {
          report.recoveryCrashImages += 1
          recover(model.image(persisting: pick.map { units[$0] }), allowed: allowed,
                  context: "\(context), then a crash at recovery event \(index)", report: &report)
        }
      }
      model.apply(event)
    }
  }
}
