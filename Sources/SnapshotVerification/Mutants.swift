import Foundation
import Snapshot

/// A deliberate bug in one journal on one medium, and whether the crash simulator can catch it.
package struct Mutant: Sendable {
  package var name: String
  package var configuration: Workload.Configuration
  package var fault: Fault
  /// Why no test can catch the mutant, when that is so: it does not change what the code does.
  package var equivalentBecause: String?

  /// The catalog: every way to break the commit protocols that the simulator checks.
  package static let all: [Mutant] = [
    Mutant(name: "redo: batch head not written back before the commit fence", configuration: .init(.persistentMemory, .redo), fault: .dropLogFlush),
    Mutant(name: "redo: no fence after the batch (the commit point)", configuration: .init(.persistentMemory, .redo), fault: .dropCommitFence),
    Mutant(name: "redo: checkpoint word stored before the home writes are fenced", configuration: .init(.persistentMemory, .redo), fault: .dropCheckpointFence),
    Mutant(name: "redo: checkpoint word not fenced before the log is reused", configuration: .init(.persistentMemory, .redo), fault: .dropRetireFence),
    Mutant(name: "redo: checkpoint marked before its home writes (commit before payload)", configuration: .init(.persistentMemory, .redo), fault: .commitBeforePayload),
    Mutant(name: "redo: recovery skips the batch checksum", configuration: .init(.persistentMemory, .redo), fault: .skipChecksum),
    Mutant(name: "redo: recovery does not retire the log", configuration: .init(.persistentMemory, .redo), fault: .skipRetire),
    Mutant(name: "redo: checkpoint word written in two 4-byte halves", configuration: .init(.persistentMemory, .redo), fault: .splitCommitWord),
    Mutant(name: "redo: a log grown for a large batch not made durable before the batch", configuration: .init(.persistentMemory, .redo), fault: .skipLengthSync),
    Mutant(name: "redo: a grown log cut back before the checkpoint that retires it", configuration: .init(.persistentMemory, .redo), fault: .restLogBeforeCheckpoint),
    Mutant(name: "redo: a grow's size recorded for the epoch before its commit (the grow not part of the commit)", configuration: .init(.persistentMemory, .redo), fault: .growOutsideCommit),
    Mutant(name: "redo: a grow does not zero the log bytes the data takes over", configuration: .init(.persistentMemory, .redo), fault: .skipGrowZeroing),
    Mutant(name: "redo: recovery keeps the size record of a grow that never became durable", configuration: .init(.persistentMemory, .redo), fault: .keepAbandonedSize),
    Mutant(name: "redo: a checkpoint writing every logged run takes the batches newest first", configuration: .init(.persistentMemory, .redo), fault: .checkpointNewestFirst),
    Mutant(name: "redo: a checkpoint does not wait for the batches written home ahead of it", configuration: .init(.persistentMemory, .redo), fault: .checkpointAheadNotAwaited),
    Mutant(name: "undo: log records not written back before the first fence", configuration: .init(.persistentMemory, .undo), fault: .dropLogFlush),
    Mutant(name: "undo: no first fence (active record and log)", configuration: .init(.persistentMemory, .undo), fault: .dropCommitFence),
    Mutant(name: "undo: no fence between the home copy and the empty mark", configuration: .init(.persistentMemory, .undo), fault: .dropHomeFence),
    Mutant(name: "undo: empty mark not fenced before msync returns", configuration: .init(.persistentMemory, .undo), fault: .dropRetireFence),
    Mutant(name: "undo: log marked empty before the home copy (commit before payload)", configuration: .init(.persistentMemory, .undo), fault: .commitBeforePayload),
    Mutant(name: "undo: recovery skips the entry checksums", configuration: .init(.persistentMemory, .undo), fault: .skipChecksum),
    Mutant(
      name: "undo: recovery does not retire the log", configuration: .init(.persistentMemory, .undo), fault: .skipRetire,
      equivalentBecause: "the stale active record only undoes to the state the home copy already holds, and the "
        + "next msync writes a fresh record before it changes the home copy"),
    Mutant(
      name: "undo: recovery applies images oldest first", configuration: .init(.persistentMemory, .undo), fault: .undoForwardOrder,
      equivalentBecause: "a line is logged at most once per epoch, so the entries never overlap and their order cannot matter"),
    Mutant(name: "file: msync does not fdatasync the log", configuration: .init(.file, .redo), fault: .skipLogSync),
    Mutant(name: "file: checkpoint resets the log before the data file is synced", configuration: .init(.file, .redo), fault: .skipDataSync),
    Mutant(name: "file: creation does not fsync the directory", configuration: .init(.file, .redo), fault: .skipDirectorySync),
    Mutant(name: "file: checkpoint resets the log before writing the data file (commit before payload)", configuration: .init(.file, .redo), fault: .commitBeforePayload),
    Mutant(name: "file: recovery skips the batch checksum", configuration: .init(.file, .redo), fault: .skipChecksum),
    Mutant(name: "file: recovery does not reset the log", configuration: .init(.file, .redo), fault: .skipRetire),
    Mutant(name: "file: log header written in two pieces", configuration: .init(.file, .redo), fault: .splitCommitWord),
    Mutant(name: "file: a grown log cut back before the log reset that retires it", configuration: .init(.file, .redo), fault: .restLogBeforeCheckpoint),
    Mutant(name: "file: a grow's size recorded for the epoch before its commit (the grow not part of the commit)", configuration: .init(.file, .redo), fault: .growOutsideCommit),
    Mutant(name: "file: recovery keeps the size record of a grow that never became durable", configuration: .init(.file, .redo), fault: .keepAbandonedSize),
    Mutant(name: "threads: msync does not hold back changes on other threads", configuration: .init(.persistentMemory, .redo), fault: .commitDuringChanges),
    Mutant(name: "threads (file): msync does not hold back changes on other threads", configuration: .init(.file, .redo), fault: .commitDuringChanges),
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
    for workload in Workload.all(scale: scale) where workload.runs(on: configuration) {
      let path = "\(scratchDirectory)/mutant.region"
      defer {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + "-log")
      }
      let scenario: Scenario
      do {
        scenario = try workload.record(configuration, faults: fault, seed: seed, path: path)
      } catch let error as SnapshotError {
        // The bug made the run itself fail, for example a reopen that refused a log the bug left.
        return Outcome(mutant: self, caughtBy: "\(workload.name): the run failed: \(error)", imagesTried: images)
      }
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
