import Foundation
import Snapshot

/// The crash simulator over every workload and journal, with the figures the reliability report shows.
package struct Simulation: Sendable {
  package struct Result: Sendable {
    package var workload: String
    package var configuration: Workload.Configuration
    package var operations: Int
    package var msyncs: Int
    package var report: CrashSimulator.Report
    package var checkFailures: [String]
    package var seconds: Double
  }

  package var scale = 1
  package var seeds: [UInt64] = [11]
  package var options = CrashSimulator.Options()
  /// Workloads, by name, left out of this run.
  package var skipping: Set<String> = []
  /// The media and journals each workload runs on, where it can.
  package var configurations = Workload.Configuration.simulated

  package init() {}

  package func run(scratchDirectory: String, progress: (String) -> Void) throws -> [Result] {
    var results: [Result] = []
    for workload in Workload.all(scale: scale) where !skipping.contains(workload.name) {
      for configuration in configurations where workload.runs(on: configuration) {
        for seed in seeds {
          let start = Date()
          let path = "\(scratchDirectory)/scenario.region"
          defer {
            try? FileManager.default.removeItem(atPath: path + "-log")
            try? FileManager.default.removeItem(atPath: path)
          }
          let scenario: Scenario
          do {
            scenario = try workload.record(configuration, seed: seed, path: path)
          } catch {
            // A run that fails is a failure row of the report, not the end of the whole check.
            let failure = "\(workload.name) (\(configuration), seed \(seed)): the run failed: \(error)"
            progress("  " + failure)
            results.append(Result(
              workload: workload.name, configuration: configuration, operations: 0, msyncs: 0, report: CrashSimulator.Report(),
              checkFailures: [failure], seconds: Date().timeIntervalSince(start)))
            if options.stopAtFirstFailure { return results }
            continue
          }
          var options = self.options
          options.seed = seed
          let report = CrashSimulator(scenario: scenario, options: options, scratchDirectory: scratchDirectory).run()
          let result = Result(
            workload: workload.name, configuration: configuration, operations: scenario.operations, msyncs: scenario.msyncs,
            report: report, checkFailures: scenario.failures, seconds: Date().timeIntervalSince(start))
          progress("  \(workload.name) (\(configuration), seed \(seed)): \(report.imagesDistinct) distinct images "
            + "of \(report.imagesGenerated), \(report.recoveryCrashImages) recovery-crash images, "
            + "\(report.commitsAfterRecovery) commits after recovery, "
            + "\(report.failures.count + scenario.failures.count) failures, \(String(format: "%.1f", result.seconds)) s")
          results.append(result)
          if options.stopAtFirstFailure, !report.failures.isEmpty || !scenario.failures.isEmpty { return results }
        }
      }
    }
    return results
  }
}
