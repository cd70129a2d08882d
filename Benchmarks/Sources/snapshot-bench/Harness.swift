import Foundation
import Snapshot

/// Monotonic time in nanoseconds.
@inline(__always)
func nanoseconds() -> UInt64 {
  nanoseconds(of: CLOCK_MONOTONIC)
}

/// The processor time all threads of the process have used so far, in nanoseconds.
func processorNanoseconds() -> UInt64 {
  nanoseconds(of: CLOCK_PROCESS_CPUTIME_ID)
}

@inline(__always)
private func nanoseconds(of clock: clockid_t) -> UInt64 {
  var time = timespec()
  clock_gettime(clock, &time)
  return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  guard !sorted.isEmpty else { return .nan }
  return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Progress goes to standard error so that standard output holds only the report.
func printProgress(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Distinct, well-spread line numbers: `index * stride mod lineCount` with an odd stride visits every
/// line of a power-of-two count exactly once.
struct SpreadLines {
  let lineCount: Int
  let stride = 0x9E37_79B1

  init(lineCount: Int) {
    precondition(lineCount.nonzeroBitCount == 1)
    self.lineCount = lineCount
  }

  func line(_ index: Int) -> Int {
    (index &* stride) & (lineCount - 1)
  }
}

/// One row of the report: a measurement, the baseline it is compared with, and the target.
struct BenchmarkRow: Codable {
  var group: String
  var name: String
  var value: Double
  var unit: String
  var baselineName: String?
  var baseline: Double?
  var target: String?
  /// Whether the target is met, when there is one.
  var met: Bool?

  var ratio: Double? { baseline.map { value / $0 } }
}

struct BenchmarkReport: Codable {
  var title: String
  var machine = MachineDescription()
  var rows: [BenchmarkRow] = []

  init(title: String) {
    self.title = title
  }

  /// Adds a row comparing `value` with `baseline`; the target is a ceiling on their ratio.
  mutating func add(
    _ group: String, _ name: String, _ value: Double, unit: String,
    baseline: (name: String, value: Double)? = nil, maxRatio: Double? = nil, minRatio: Double? = nil,
    maxValue: Double? = nil, minValue: Double? = nil
  ) {
    var row = BenchmarkRow(group: group, name: name, value: value, unit: unit, baselineName: baseline?.name, baseline: baseline?.value)
    if let maxRatio, let ratio = row.ratio {
      row.target = "≤ \(format(maxRatio))x"
      row.met = ratio <= maxRatio
    } else if let minRatio, let ratio = row.ratio {
      row.target = "≥ \(format(minRatio))x"
      row.met = ratio >= minRatio
    } else if let maxValue {
      row.target = "≤ \(format(maxValue)) \(unit)"
      row.met = value <= maxValue
    } else if let minValue {
      row.target = "≥ \(format(minValue)) \(unit)"
      row.met = value >= minValue
    }
    rows.append(row)
    printProgress("  \(name): \(format(value)) \(unit)" + (row.ratio.map { " (\(format($0))x \(baseline!.name))" } ?? ""))
  }

  func markdown() -> String {
    var lines = ["## \(title)", "", machine.summary, "",
                 "| group | measurement | value | baseline (same run) | ratio | target | met |",
                 "|---|---|---|---|---|---|---|"]
    for row in rows {
      let baseline = row.baseline.map { "\(row.baselineName!): \(format($0)) \(row.unit)" } ?? ""
      let ratio = row.ratio.map { format($0) + "x" } ?? ""
      let met = row.met.map { $0 ? "yes" : "**no**" } ?? ""
      lines.append("| \(row.group) | \(row.name) | \(format(row.value)) \(row.unit) | \(baseline) | \(ratio) | \(row.target ?? "") | \(met) |")
    }
    return lines.joined(separator: "\n")
  }

  /// Writes the report as JSON, creating the file's directory if needed.
  func write(json path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try encoder.encode(self).write(to: url)
    printProgress("wrote \(path)")
  }
}

struct MachineDescription: Codable {
  var processor: String
  var cores: Int
  var flushInstruction: String
  var date: String

  init() {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    processor = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
      .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
    cores = ProcessInfo.processInfo.activeProcessorCount
    flushInstruction = CPUFeatures.current.flushInstruction.rawValue
    date = ISO8601DateFormatter().string(from: Date())
  }

  var summary: String {
    "\(processor), \(cores) cores, flush instruction \(flushInstruction), \(date)"
  }
}

func format(_ value: Double) -> String {
  if value >= 100 { return String(format: "%.0f", value) }
  if value >= 10 { return String(format: "%.1f", value) }
  return String(format: "%.2f", value)
}

/// A scratch directory for region files, removed at exit.
final class Workspace {
  let path: String

  init(parent: String) throws {
    path = "\(parent)/snapshot-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }

  /// Removes every file, so that one benchmark's regions do not take the memory of the next.
  func clear() {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
      try? FileManager.default.removeItem(atPath: "\(path)/\(name)")
    }
  }

  func file(_ name: String) -> String {
    let file = "\(path)/\(name)"
    try? FileManager.default.removeItem(atPath: file)
    return file
  }
}
