import Foundation
import Snapshot

/// A deliberate bug in one journal, and whether the crash simulator can catch it.
package struct Mutant: Sendable {
  package var name: String
  package var journal: Region.Journal
  package var fault: Fault
  /// Why no test can catch the mutant, when that is so: it does not change what the code does.
  package var equivalentBecause: String?

  /// The catalog: every way to break the byte-addressable commit protocols that the simulator checks.
  package static let persistentMemory: [Mutant] = [
    Mutant(name: "redo: batch head not written back before the commit fence", journal: .redo, fault: .dropLogFlush),
    Mutant(name: "redo: no fence after the batch (the commit point)", journal: .redo, fault: .dropCommitFence),
    Mutant(name: "redo: checkpoint word stored before the home writes are fenced", journal: .redo, fault: .dropCheckpointFence),
    Mutant(name: "redo: checkpoint word not fenced before the log is reused", journal: .redo, fault: .dropRetireFence),
    Mutant(name: "redo: checkpoint marked before its home writes (commit before payload)", journal: .redo, fault: .commitBeforePayload),
    Mutant(name: "redo: recovery skips the batch checksum", journal: .redo, fault: .skipChecksum),
    Mutant(name: "redo: recovery does not retire the log", journal: .redo, fault: .skipRetire),
    Mutant(name: "redo: checkpoint word written in two 4-byte halves", journal: .redo, fault: .splitCommitWord),
    Mutant(name: "undo: log records not written back before the first fence", journal: .undo, fault: .dropLogFlush),
    Mutant(name: "undo: no first fence (active record and log)", journal: .undo, fault: .dropCommitFence),
    Mutant(name: "undo: no fence between the home copy and the empty mark", journal: .undo, fault: .dropHomeFence),
    Mutant(name: "undo: empty mark not fenced before msync returns", journal: .undo, fault: .dropRetireFence),
    Mutant(name: "undo: log marked empty before the home copy (commit before payload)", journal: .undo, fault: .commitBeforePayload),
    Mutant(name: "undo: recovery skips the entry checksums", journal: .undo, fault: .skipChecksum),
    Mutant(
      name: "undo: recovery does not retire the log", journal: .undo, fault: .skipRetire,
      equivalentBecause: "the stale active record only undoes to the state the home copy already holds, and the "
        + "next msync writes a fresh record before it changes the home copy"),
    Mutant(
      name: "undo: recovery applies images oldest first", journal: .undo, fault: .undoForwardOrder,
      equivalentBecause: "a line is logged at most once per epoch, so the entries never overlap and their order cannot matter"),
  ]

  /// What running a mutant found.
  package struct Outcome: Sendable {
    package var mutant: Mutant
    /// The first failure the simulator reported: the image (or check) that caught the mutant.
    package var caughtBy: String?
    package var imagesTried: Int
  }

  /// Runs the workloads with the fault switched on until one of them fails.
  package func run(seed: UInt64, scale: Int, scratchDirectory: String) throws -> Outcome {
    var images = 0
    var options = CrashSimulator.Options()
    options.stopAtFirstFailure = true
    options.seed = seed
    for workload in Workload.all(scale: scale) {
      let scenario = try workload.record(journal: journal, faults: fault, seed: seed, path: "\(scratchDirectory)/mutant.region")
      try? FileManager.default.removeItem(atPath: "\(scratchDirectory)/mutant.region")
      if let failure = scenario.failures.first {
        return Outcome(mutant: self, caughtBy: "\(workload.name): \(failure)", imagesTried: images)
      }
      let report = CrashSimulator(scenario: scenario, options: options, scratchDirectory: scratchDirectory).run()
      images += report.images
      if let failure = report.failures.first {
        return Outcome(mutant: self, caughtBy: failure, imagesTried: images)
      }
    }
    return Outcome(mutant: self, caughtBy: nil, imagesTried: images)
  }
}
