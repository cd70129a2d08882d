import Foundation
import Testing
@testable import Snapshot
import SnapshotVerification
import SnapshotTestSupport

/// The checking machinery itself, at a size a debug build runs quickly. The full bounded run, with
/// its targets (10^5 crash images, every mutant, 200 kills per journal, 10^5 fuzz cases), is
/// `swift run -c release snapshot crash-test`, which the test command runs after these tests.
@Suite struct ReliabilityTests {
  @Test func smallRunFindsNoFailure() throws {
    let directory = TestDirectory()
    let disk = TestDirectory(onDisk: true)
    var reliability = Reliability(worker: [snapshotExecutable, "crash-test-worker"], diskDirectory: disk.path)
    reliability.seeds = [21]
    reliability.recoveryCrashEvery = 8
    reliability.kills = 20
    reliability.fuzzCases = 3_000
    reliability.storeFuzzCases = 2_000
    reliability.mutants = []
    // Its own test runs it in a debug build (SQLCrashSimulationTests); the crash-test on every medium.
    // The key-value bank and the log wrap took half of this run's time in a debug build; the
    // crash-test runs them, on every medium and three seeds, right after these tests.
    reliability.skippedWorkloads = [Workload.sqlTransfersName, "bank transfers, key-value store", "log wrap and checkpoints"]
    // Emulated CXL memory runs the persistent-memory protocol behind a device model, and took two
    // fifths of this run's time; the crash-test runs it.
    reliability.configurations = Workload.Configuration.all
    let report = try reliability.run(directory: directory.path) { _ in }
    #expect(report.failures.isEmpty, "\(report.failures.prefix(5).joined(separator: "\n"))")
    #expect(report.allCrashPointsVisited)
    #expect(report.images > 10_000)
    #expect(report.simulations.allSatisfy { $0.report.recoveredStates.count > 1 })
    #expect(report.kills.count == 5 && report.kills.allSatisfy { $0.1.iterations == ($0.0.hasSuffix("SQLite") ? 10 : 20) })
    #expect(report.fuzz.typedErrors > 0 && report.fuzz.recovered > 0 && report.fuzz.structuredCases > 0)
    #expect(report.storeFuzz.cases == 2_000 && report.storeFuzz.refused > 0 && report.storeFuzz.passed > 0)
  }

  /// A few mutants, one per kind of bug, must each be caught.
  @Test(arguments: [Fault.dropCommitFence, .skipChecksum, .splitCommitWord, .commitBeforePayload, .skipLogSync, .skipDirectorySync])
  func mutantsAreCaught(fault: Fault) throws {
    let directory = TestDirectory()
    for mutant in Mutant.all where mutant.fault == fault && mutant.equivalentBecause == nil {
      let outcome = try mutant.run(seed: 11, scale: 1, scratchDirectory: directory.path)
      #expect(outcome.caughtBy != nil, "\(mutant.name) was not caught")
    }
  }
}
