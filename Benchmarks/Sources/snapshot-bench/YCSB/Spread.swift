/// A figure measured several times: the median and the range of the measurements.
struct Spread {
  let median: Double
  let lowest: Double
  let highest: Double

  /// The median (the upper one of an even count, as the median run is chosen) and the range of `values`.
  init?(_ values: [Double]) {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    median = sorted[sorted.count / 2]
    lowest = sorted[0]
    highest = sorted[sorted.count - 1]
  }

  /// "1.85x (1.70-1.93x)"-style: the median, and the range when there was more than one measurement.
  func formatted(suffix: String = "") -> String {
    shown(format, suffix: suffix)
  }

  /// A rate to three figures, "19.8k (15.4k-24.1k)"-style.
  var formattedRate: String { shown(abbreviated) }

  private func shown(_ figure: (Double) -> String, suffix: String = "") -> String {
    let median = figure(self.median) + suffix
    return lowest == highest ? median : "\(median) (\(figure(lowest))-\(figure(highest))\(suffix))"
  }

  private func abbreviated(_ value: Double) -> String {
    if value >= 1e6 { return format(value / 1e6) + "M" }
    if value >= 1e4 { return format(value / 1e3) + "k" }
    return format(value)
  }
}

extension YCSBResult {
  /// Operations per second over every run of this configuration.
  var throughput: Spread { Spread(runsPerSecond ?? [operationsPerSecond])! }

  /// This configuration's throughput over `baseline`'s, repetition by repetition: the runs of one
  /// repetition ran back to back.
  func speedup(over baseline: YCSBResult) -> Spread {
    let ours = runsPerSecond ?? [operationsPerSecond], theirs = baseline.runsPerSecond ?? [baseline.operationsPerSecond]
    guard ours.count == theirs.count else { return Spread([operationsPerSecond / baseline.operationsPerSecond])! }
    return Spread(zip(ours, theirs).map { $0 / $1 })!
  }
}
