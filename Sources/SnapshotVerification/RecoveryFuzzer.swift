import Foundation
import Snapshot
import SystemPackage

/// Corrupts region files in every way a disk, a bug or a person could (bit flips, truncation,
/// extension, swapped or overwritten log lines, random header bytes) and checks that opening each one
/// either throws a `SnapshotError` or recovers a state some commit produced. A trap would end the run.
package struct RecoveryFuzzer: Sendable {
  package var cases = 100_000
  package var seed: UInt64 = 3

  package struct Report: Sendable {
    package var cases = 0
    package var typedErrors = 0
    /// Cases that opened and hold a state some commit produced.
    package var recovered = 0
    /// Cases whose corruption touched only the data area, which carries no checksum, and that opened:
    /// nothing can tell their state from a committed one, so only the absence of a trap is checked.
    package var dataAreaOpened = 0
    package var failures: [String] = []
  }

  /// A file to corrupt, and the committed states that may be recovered from a corrupted copy of it.
  struct Seed {
    var image: [UInt8]
    var states: [CommittedState]
    var dataRange: Range<Int>
    var logRange: Range<Int>
    var name: String
  }

  package init() {}

  package func run(directory: String, progress: (String) -> Void) throws -> Report {
    let seeds = try corpus(directory: directory)
    var generator = SeededGenerator(seed: seed)
    var report = Report()
    let path = FilePath("\(directory)/fuzz.region")
    for index in 0..<cases {
      let seed = seeds[index % seeds.count]
      let (image, description, dataOnly) = mutate(seed, generator: &generator)
      try Data(image).write(to: URL(fileURLWithPath: path.string))
      let context = "case \(index) (\(seed.name), \(description))"
      let inspected = Result { () throws(SnapshotError) in try Region.inspect(at: path) }
      do {
        let region = try Region.open(at: path)
        let epoch = region.epoch
        let data = region.withUnsafeBytes { Array($0) }
        region.abandon()
        if dataOnly {
          report.dataAreaOpened += 1
        } else if seed.states.contains(where: { $0.epoch == epoch && $0.data == data }) {
          report.recovered += 1
        } else {
          report.failures.append("\(context): opened at epoch \(epoch) with a state no commit produced")
        }
      } catch {
        report.typedErrors += 1
        if case .success = inspected {
          report.failures.append("\(context): inspect accepted the file but open failed: \(error)")
        }
      }
      report.cases += 1
      if report.cases % 25_000 == 0 {
        progress("  fuzz: \(report.cases) cases, \(report.typedErrors) typed errors, \(report.failures.count) failures")
      }
    }
    try? FileManager.default.removeItem(atPath: path.string)
    return report
  }

  /// Region files as runs leave them: cleanly closed, and crashed with a log to replay or undo.
  func corpus(directory: String) throws -> [Seed] {
    var seeds: [Seed] = []
    for journal in Region.Journal.allCases {
      let path = "\(directory)/fuzz-seed.region"
      let scenario = try Workload.randomStores(rounds: 10).record(journal: journal, seed: seed, path: path)
      try? FileManager.default.removeItem(atPath: path)
      let header = try RegionHeader.decode(Array(scenario.initialImage.prefix(64)), path: path)
      let data = header.dataOffset..<header.dataOffset + header.dataSize
      let log = header.logOffset..<header.logOffset + header.logSize
      var model = PersistentMemoryCrashModel(initialImage: scenario.initialImage)
      var states = [scenario.states[0]]
      var fences = 0
      for event in scenario.trace {
        if case .msyncReturned(let state) = event { states = Array(scenario.states[...state]) }
        if case .msyncBegins(let state) = event { states = Array(scenario.states[...state]) }
        if event == .fence {
          fences += 1
          if fences % 3 == 0 {
            let all = Dictionary(uniqueKeysWithValues: model.uncertainUnits.map { ($0.unit, Optional($0.valueCount - 1)) })
            seeds.append(Seed(image: model.image(all), states: states, dataRange: data, logRange: log,
                              name: "\(journal) crash image at fence \(fences)"))
          }
        }
        model.apply(event)
      }
      seeds.append(Seed(image: model.durable, states: scenario.states, dataRange: data, logRange: log,
                        name: "\(journal) cleanly closed"))
    }
    return seeds
  }

  /// One corruption of a seed: the bytes, what was done, and whether only the data area changed.
  func mutate(_ seed: Seed, generator: inout SeededGenerator) -> ([UInt8], String, Bool) {
    var image = seed.image
    let headerPage = 0..<4096
    func offset(in range: Range<Int>) -> Int { Int.random(in: range, using: &generator) }
    switch Int.random(in: 0..<9, using: &generator) {
    case 0:
      let flips = Int.random(in: 1...4, using: &generator)
      for _ in 0..<flips { image[offset(in: headerPage)] ^= 1 << UInt8.random(in: 0..<8, using: &generator) }
      return (image, "\(flips) bit flips in the header page", false)
    case 1:
      let flips = Int.random(in: 1...8, using: &generator)
      for _ in 0..<flips { image[offset(in: seed.logRange)] ^= 1 << UInt8.random(in: 0..<8, using: &generator) }
      return (image, "\(flips) bit flips in the log", false)
    case 2:
      let start = offset(in: seed.logRange)
      let count = min(Int.random(in: 1...64, using: &generator), seed.logRange.upperBound - start)
      for index in start..<start + count { image[index] = .random(in: 0...255, using: &generator) }
      return (image, "\(count) random bytes in the log at \(start)", false)
    case 3:
      let length = Int.random(in: 0..<image.count, using: &generator)
      return (Array(image[..<length]), "truncated to \(length) bytes", false)
    case 4:
      let extra = Int.random(in: 1...8192, using: &generator)
      return (image + (0..<extra).map { _ in UInt8.random(in: 0...255, using: &generator) }, "extended by \(extra) bytes", false)
    case 5:
      let lines = seed.logRange.count / 64
      let a = seed.logRange.lowerBound + Int.random(in: 0..<lines, using: &generator) * 64
      let b = seed.logRange.lowerBound + Int.random(in: 0..<lines, using: &generator) * 64
      let first = Array(image[a..<a + 64])
      image.replaceSubrange(a..<a + 64, with: image[b..<b + 64])
      image.replaceSubrange(b..<b + 64, with: first)
      return (image, "log lines at \(a) and \(b) swapped", false)
    case 6:
      let start = offset(in: seed.logRange)
      let count = min(Int.random(in: 8...4096, using: &generator), seed.logRange.upperBound - start)
      image.replaceSubrange(start..<start + count, with: repeatElement(0, count: count))
      return (image, "\(count) log bytes zeroed at \(start)", false)
    case 7:
      let start = Int.random(in: 0..<128, using: &generator)
      let count = Int.random(in: 1...8, using: &generator)
      for index in start..<min(start + count, 128) { image[index] = .random(in: 0...255, using: &generator) }
      return (image, "random bytes in the header or control line at \(start)", false)
    default:
      let flips = Int.random(in: 1...8, using: &generator)
      for _ in 0..<flips { image[offset(in: seed.dataRange)] ^= 1 << UInt8.random(in: 0..<8, using: &generator) }
      return (image, "\(flips) bit flips in the data area", true)
    }
  }
}

