import Foundation
import YCSB

/// Runs `ycsb-run` in child processes, one per run. The engines compared in one table cell group are
/// run back to back, one repetition of each in turn, so that the machine's drift (this is a shared
/// machine) falls on all of them alike and each repetition gives one ratio between any two of them.
struct ChildRunner {
  let repetitions: Int
  let seed: UInt64
  let directories: [MediumKind: String]
  let device: DeviceSettings
  /// Runs to make in all, for the progress line.
  var total = 0
  private var done = 0

  init(repetitions: Int, seed: UInt64, directories: [MediumKind: String], device: DeviceSettings) {
    precondition(repetitions >= 1, "at least one repetition")
    self.repetitions = repetitions
    self.seed = seed
    self.directories = directories
    self.device = device
  }

  /// Each engine's median run of `repetitions` (in the order of `engines`), carrying every run's
  /// throughput in the order run.
  mutating func measure(
    _ engines: [EngineKind], medium: MediumKind, spec: WorkloadSpec, records: Int, operations: Int, commitEvery: Int
  ) throws -> [YCSBResult] {
    var runs: [EngineKind: [YCSBResult]] = [:]
    for repetition in 1...repetitions {
      for engine in engines {
        let result = try runOnce(engine: engine, medium: medium, spec: spec, records: records, operations: operations, commitEvery: commitEvery)
        runs[engine, default: []].append(result)
        done += 1
        printProgress("[\(done)/\(total)] \(medium.rawValue) \(spec.name) \(engine.rawValue)"
          + (commitEvery > 1 ? " commit 1/\(commitEvery)" : "") + (repetitions > 1 ? " (\(repetition)/\(repetitions))" : "")
          + ": \(Int(result.operationsPerSecond)) ops/s" + (result.writeAmplification.map { String(format: ", WA %.1f", $0) } ?? "")
          + (result.deviceMisses.map { String(format: ", device misses %.2f/op", Double($0) / Double(result.operations)) } ?? ""))
      }
    }
    return engines.map { engine in
      let runs = runs[engine]!
      var median = runs.sorted { $0.operationsPerSecond < $1.operationsPerSecond }[runs.count / 2]
      median.runsPerSecond = runs.map(\.operationsPerSecond)
      return median
    }
  }

  private func runOnce(
    engine: EngineKind, medium: MediumKind, spec: WorkloadSpec, records: Int, operations: Int, commitEvery: Int
  ) throws -> YCSBResult {
    let scratch = "\(directories[medium]!)/snapshot-ycsb-\(getpid())"
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    process.arguments = [
      "ycsb-run", "--engine", engine.rawValue, "--medium", medium.rawValue, "--workload", spec.name,
      "--index", (spec.scan > 0 ? IndexKind.ordered : .hashed).rawValue, "--directory", scratch,
      "--records", "\(records)", "--operations", "\(operations)", "--commit-every", "\(commitEvery)", "--seed", "\(seed)",
      "--device-cache", "\(device.cacheBytes)", "--device-latency", "\(device.latencyNanoseconds)",
    ]
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0, let line = String(data: data, encoding: .utf8)?.split(separator: "\n").last else {
      throw BaselineError(description: "\(engine.rawValue) on \(spec.name) (\(medium.rawValue)) failed: "
        + String(decoding: message, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " / "))
    }
    return try JSONDecoder().decode(YCSBResult.self, from: Data(line.utf8))
  }
}
