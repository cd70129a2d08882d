import Foundation
import Snapshot
import SystemPackage

/// Corrupts region files in every way a disk, a bug or a person could (bit flips, truncation,
/// extension, swapped or overwritten log lines, random header bytes) and checks that opening each one
/// either throws a `SnapshotError` or recovers a state some commit produced, and never one older than
/// a commit whose evidence the corruption left intact: the checkpoint, when its word or log header
/// is untouched, and every redo batch whose bytes are untouched. A trap would end the run.
package struct RecoveryFuzzer: Sendable {
  package var cases = 100_000
  package var seed: UInt64 = 3
  /// Longer than any case takes by orders of magnitude, even on a loaded machine.
  package var timeLimit: TimeInterval = 20

  package struct Report: Sendable {
    package var cases = 0
    /// Of `cases`, the structured corruptions, each built to reach one check of recovery.
    package var structuredCases = 0
    package var typedErrors = 0
    /// Cases that opened and hold a state some commit produced.
    package var recovered = 0
    /// Cases whose corruption touched only the data area, which carries no checksum, and that opened:
    /// nothing can tell their state from a committed one, so only the absence of a trap is checked.
    package var dataAreaOpened = 0
    /// Cases whose corruption hit a seed's unverifiable records (see `Seed.unverifiable`) and that
    /// opened no older than the commits still proven: the state itself cannot be checked.
    package var unverifiableOpened = 0
    package var failures: [String] = []
  }

  /// A region to corrupt, and the committed states that may be recovered from a corrupted copy of it.
  struct Seed {
    var image: CrashImage
    var states: [CommittedState]
    var targets: [Target]
    var name: String
    /// Where the uncorrupted image records its commits.
    var records: CommitRecords?
    /// Where damage can leave a mix of commits that no record tells from a committed state. Only in a
    /// crash image whose home copy is already ahead of the commit recovery starts from (taken inside a
    /// redo checkpoint, or after an undo commit's first fence): there, the records recovery needs to
    /// finish or undo the change (the redo batches; the undo record and entries) are the only
    /// evidence of which lines changed, and a checkpoint or commit writes nothing else first.
    var unverifiable: [(file: RegionFileRole, bytes: Range<Int>)] = []
  }

  /// One corruption of a seed.
  struct Mutation {
    var image: CrashImage
    var description: String
    /// Whether the result can be checked against the committed states: false for a change to the
    /// data area alone, which has no checksum.
    var checked: Bool
    var touched: [(file: RegionFileRole, bytes: Range<Int>)]
    /// What a structured corruption must lead to; nil for a random one.
    var expectation: Expectation? = nil
  }

  /// A part of a region's files a mutation may hit.
  struct Target {
    var file: RegionFileRole
    var range: Range<Int>
    /// Whether a change here can be detected: false for the data area, which has no checksum.
    var checked: Bool
    var name: String
  }

  package init() {}

  package func run(directory: String, progress: (String) -> Void) throws -> Report {
    let seeds = try corpus(directory: directory)
    var generator = SeededGenerator(seed: seed)
    var report = Report()
    let path = FilePath("\(directory)/fuzz.region")
    let watchdog = Watchdog(limit: timeLimit, directory: directory)
    defer { watchdog.stop() }
    func fuzz(_ mutation: Mutation, of seed: Seed, context: String) throws {
      try mutation.image.write(to: path)
      watchdog.begin("recovery fuzz \(context)")
      check(mutation, of: seed, at: path, context: context, report: &report)
      report.cases += 1
      if report.cases % 25_000 == 0 {
        progress("  fuzz: \(report.cases) cases, \(report.typedErrors) typed errors, \(report.failures.count) failures")
      }
    }
    for seed in seeds {
      for mutation in try structuredMutations(of: seed) {
        try fuzz(mutation, of: seed, context: "structured case \(report.structuredCases) (\(seed.name), \(mutation.description))")
        report.structuredCases += 1
      }
    }
    for index in 0..<cases {
      let seed = seeds[index % seeds.count]
      let mutation = mutate(seed, generator: &generator)
      try fuzz(mutation, of: seed, context: "case \(index) (\(seed.name), \(mutation.description))")
    }
    try? CrashImage(data: [], filesPresent: false).write(to: path)
    return report
  }

  /// Opens the corrupted region at `path` and checks what it recovered against the seed's commits and
  /// the mutation's expectation.
  private func check(_ mutation: Mutation, of seed: Seed, at path: FilePath, context: String, report: inout Report) {
    let proven = seed.records?.provenEpoch(despite: mutation.touched) ?? 0
    let inspected = Result { () throws(SnapshotError) in try Region.inspect(at: path) }
    do {
      let region = try Region.open(at: path)
      let epoch = region.epoch
      let data = region.withUnsafeBytes { Array($0) }
      region.abandon()
      // An expectation built from the log alone gives way to a size record that proves a later commit.
      var expectation = mutation.expectation
      if case .recovery(let expected, _) = expectation, expected < proven { expectation = nil }
      switch expectation {
      case .refusal:
        report.failures.append("\(context): opened at epoch \(epoch) where it must refuse")
        return
      case .recovery(let expected, let outcome):
        if epoch != expected {
          report.failures.append("\(context): opened at epoch \(epoch) where it must recover commit \(expected)")
          return
        }
        if let outcome, case .success(let info) = inspected, info.pendingRecovery != outcome {
          report.failures.append("\(context): inspect reports \(info.pendingRecovery) where it must report \(outcome)")
          return
        }
      case nil:
        break
      }
      if epoch < proven {
        report.failures.append("\(context): opened at epoch \(epoch), older than commit \(proven), whose record is intact")
      } else if !mutation.checked {
        report.dataAreaOpened += 1
      } else if mutation.touched.contains(where: { change in
        seed.unverifiable.contains { $0.file == change.file && $0.bytes.overlaps(change.bytes) }
      }) {
        report.unverifiableOpened += 1
      } else if seed.states.contains(where: { $0.epoch == epoch && $0.data == data }) {
        report.recovered += 1
      } else {
        report.failures.append("\(context): opened at epoch \(epoch) with a state no commit produced")
      }
    } catch {
      report.typedErrors += 1
      if case .success = inspected {
        report.failures.append("\(context): inspect accepted the region but open failed: \(error)")
      } else if case .recovery(let expected, _) = mutation.expectation, expected >= proven {
        report.failures.append("\(context): refused (\(error)) where it must recover commit \(expected)")
      }
    }
  }

  /// Regions as runs leave them, on every medium and journal: cleanly closed, and crashed with a log
  /// to replay or undo; with the redo journal also regions that grew, with their size records.
  func corpus(directory: String) throws -> [Seed] {
    var seeds: [Seed] = []
    for configuration in Workload.Configuration.all {
      let path = "\(directory)/fuzz-seed.region"
      let workloads = [Workload.randomStores(rounds: 10)] + (configuration.journal == .redo ? [Workload.regionGrowth(rounds: 3)] : [])
      for workload in workloads {
        let scenario = try workload.record(configuration, seed: seed, path: path)
        try? CrashImage(data: [], filesPresent: false).write(to: FilePath(path))
        let configurationSeeds: [Seed]
        switch configuration.backing {
        case .persistentMemory:
          configurationSeeds = images(of: scenario, model: PersistentMemoryCrashModel(initial: scenario.initialImage))
        case .file:
          configurationSeeds = images(of: scenario, model: FileCrashModel(created: scenario.initialImage))
        }
        for var seed in configurationSeeds {
          try seed.image.write(to: FilePath(path))
          let records = try Region.commitRecords(at: FilePath(path))
          seed.records = records
          // The parts of the files where they are in this image: a grown region's data ends later.
          let header = try RegionHeader.decode(Array(seed.image.data.prefix(64)), path: path).resized(to: records.dataSize)
          seed.targets = Self.targets(of: seed.image, header: header)
          let home = Array(seed.image.data[header.dataOffset..<header.dataOffset + header.dataSize])
          if seed.states.first(where: { $0.epoch == records.base.epoch })?.data != home {
            seed.unverifiable = header.journal == .redo
              ? records.batches.map { ($0.file, $0.bytes) }
              : [(.data, UndoJournalLayout.stateWord..<UndoJournalLayout.stateWord + 64), (.data, header.logOffset..<header.logOffset + header.logSize)]
          }
          seeds.append(seed)
        }
        try? CrashImage(data: [], filesPresent: false).write(to: FilePath(path))
      }
    }
    return seeds
  }

  /// Crash images at every crash point of a run, and its final state.
  private func images<Model: CrashModel>(of scenario: Scenario, model initial: Model) -> [Seed] {
    var seeds: [Seed] = []
    var model = initial
    var states = [scenario.states[0]]
    var points = 0
    let name = "\(scenario.backing) \(scenario.journal)"
    for event in scenario.trace {
      if case .msyncBegins(let state) = event { states = Array(scenario.states[...state]) }
      if Model.isCrashPoint(event) {
        points += 1
        let image = model.image(Dictionary(uniqueKeysWithValues: model.uncertainUnits.map { ($0.unit, 1) }))
        if image.filesPresent {
          seeds.append(Seed(image: image, states: states, targets: [], name: "\(scenario.workload), \(name) crash image at point \(points)"))
        }
      }
      model.apply(event)
    }
    let final = model.image([:])
    seeds.append(Seed(image: final, states: scenario.states, targets: [], name: "\(scenario.workload), \(name) cleanly closed"))
    return seeds
  }

  /// The parts of a region's files, whose header with its current size is `header`: header page, data
  /// area, log (area or file).
  static func targets(of image: CrashImage, header: RegionHeader) -> [Target] {
    var targets = [
      Target(file: .data, range: 0..<header.dataOffset, checked: true, name: "header page"),
      Target(file: .data, range: header.dataOffset..<header.dataOffset + header.dataSize, checked: false, name: "data area"),
    ]
    if let log = image.log {
      targets.append(Target(file: .log, range: 0..<4096, checked: true, name: "log header"))
      targets.append(Target(file: .log, range: 4096..<log.count, checked: true, name: "log"))
    } else {
      targets.append(Target(file: .data, range: header.logOffset..<image.data.count, checked: true, name: "log"))
    }
    return targets
  }

  /// One corruption of a seed: the files, what was done, whether the result can be checked, and the
  /// bytes it changed.
  func mutate(_ seed: Seed, generator: inout SeededGenerator) -> Mutation {
    var image = seed.image
    let target = seed.targets.randomElement(using: &generator)!
    let logTargets = seed.targets.filter { $0.name == "log" }
    var touched: [(file: RegionFileRole, bytes: Range<Int>)] = []
    func edit(_ file: RegionFileRole, _ bytes: Range<Int>, _ body: (inout [UInt8]) -> Void) {
      touched.append((file, bytes))
      if file == .data { body(&image.data) } else { body(&image.log!) }
    }
    func size(of file: RegionFileRole) -> Int { file == .data ? image.data.count : image.log!.count }
    func offset(in range: Range<Int>) -> Int { Int.random(in: range, using: &generator) }
    func mutation(_ description: String, checked: Bool = true) -> Mutation {
      Mutation(image: image, description: description, checked: checked, touched: touched)
    }
    switch Int.random(in: 0..<7, using: &generator) {
    case 0:
      let flips = Int.random(in: 1...8, using: &generator)
      for _ in 0..<flips {
        let at = offset(in: target.range)
        edit(target.file, at..<at + 1) { bytes in bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &generator) }
      }
      return mutation("\(flips) bit flips in the \(target.name)", checked: target.checked)
    case 1:
      let start = offset(in: target.range)
      let count = min(Int.random(in: 1...64, using: &generator), target.range.upperBound - start)
      edit(target.file, start..<start + count) { bytes in
        for index in start..<start + count { bytes[index] = .random(in: 0...255, using: &generator) }
      }
      return mutation("\(count) random bytes in the \(target.name) at \(start)", checked: target.checked)
    case 2:
      let length = Int.random(in: 0..<size(of: target.file), using: &generator)
      edit(target.file, length..<size(of: target.file)) { bytes in bytes.removeSubrange(length...) }
      return mutation("the \(target.file) truncated to \(length) bytes")
    case 3:
      let extra = Int.random(in: 1...8192, using: &generator)
      let end = size(of: target.file)
      edit(target.file, end..<end + extra) { bytes in bytes += (0..<extra).map { _ in UInt8.random(in: 0...255, using: &generator) } }
      return mutation("the \(target.file) extended by \(extra) bytes")
    case 4:
      let log = logTargets[0]
      let lines = log.range.count / 64
      let a = log.range.lowerBound + Int.random(in: 0..<lines, using: &generator) * 64
      let b = log.range.lowerBound + Int.random(in: 0..<lines, using: &generator) * 64
      touched.append((log.file, a..<a + 64))
      edit(log.file, b..<b + 64) { bytes in
        let first = Array(bytes[a..<a + 64])
        bytes.replaceSubrange(a..<a + 64, with: bytes[b..<b + 64])
        bytes.replaceSubrange(b..<b + 64, with: first)
      }
      return mutation("log lines at \(a) and \(b) swapped")
    case 5:
      let log = logTargets[0]
      let start = offset(in: log.range)
      let count = min(Int.random(in: 8...4096, using: &generator), log.range.upperBound - start)
      edit(log.file, start..<start + count) { bytes in bytes.replaceSubrange(start..<start + count, with: repeatElement(0, count: count)) }
      return mutation("\(count) log bytes zeroed at \(start)")
    default:
      let file: RegionFileRole = image.log != nil && Bool.random(using: &generator) ? .log : .data
      let start = Int.random(in: 0..<(file == .data ? 128 : 64), using: &generator)
      let count = Int.random(in: 1...8, using: &generator)
      edit(file, start..<start + count) { bytes in
        for index in start..<min(start + count, bytes.count) { bytes[index] = .random(in: 0...255, using: &generator) }
      }
      return mutation("random bytes in the \(file) header at \(start)")
    }
  }
}
