import Snapshot
import SnapshotTestSupport
import SnapshotVerification
import Testing

/// The crash simulator on SQL bank transfers through the snapshot VFS, in a debug build.
@Suite struct SQLCrashSimulationTests {
  /// On persistent memory only: the file medium's run, four times as many images, is the crash-test's.
  @Test func everyCrashImageIsAnIntactDatabaseOfOneTransaction() throws {
    let configuration = Workload.Configuration(.persistentMemory, .redo)
    let directory = TestDirectory(onDisk: configuration.backing == .file)
    let scenario = try Workload.sqlTransfers(rounds: 3).record(configuration, seed: 5, path: "\(directory.path)/bank.db")
    #expect(scenario.failures.isEmpty, "\(scenario.failures)")
    // The database outgrew the region it started in.
    #expect(scenario.states.last!.data.count > Workload.sqlTransfers(rounds: 3).regionSize)
    let report = CrashSimulator(scenario: scenario, options: .init(), scratchDirectory: directory.path).run()
    #expect(report.failures.isEmpty, "\(report.failures.prefix(3))")
    #expect(report.imagesDistinct > 100)
    #expect(report.commitsAfterRecovery > 10)
  }
}
