import Foundation
import SystemPackage
import Testing
@testable import Snapshot

/// The persistent-memory protocols under the crash simulator: every image a crash could leave must
/// recover to a committed state.
@Suite struct CrashImageTests {
  /// Runs `workload` on a fresh region with a tracing medium, then simulates crashes over the trace.
  func simulate(
    journal: Region.Journal, size: Int = 16 << 10, seed: UInt64,
    workload: (Region, TracingMedium, inout SeededGenerator, (UInt64) -> Void) throws -> Void
  ) throws -> CrashSimulator.Report {
    let directory = TestDirectory()
    let path = directory.file("region")
    try Region.create(at: path, size: size, options: .init(journal: journal)).close()
    let initial = Array(try Data(contentsOf: path))
    let (region, tracer) = try TracingMedium.open(at: path)
    var committed: [UInt64: [UInt8]] = [0: region.withUnsafeBytes { Array($0) }]
    var generator = SeededGenerator(seed: seed)
    try workload(region, tracer, &generator) { epoch in
      committed[epoch] = region.withUnsafeBytes { Array($0) }
    }
    try region.close()
    let simulator = CrashSimulator(
      initialImage: initial, trace: tracer.events, committedStates: committed, directory: directory, seed: seed)
    return simulator.run()
  }

  /// msync with the markers the simulator needs.
  static func commit(_ region: Region, _ tracer: TracingMedium, _ acknowledge: (UInt64) -> Void) throws {
    tracer.note(.msyncBegins)
    let epoch = try region.msync()
    tracer.note(.msyncReturned(epoch: epoch))
    acknowledge(epoch)
  }

  @Test(arguments: Region.Journal.allCases)
  func randomStoresOfRandomSizesAndAlignments(journal: Region.Journal) throws {
    let report = try simulate(journal: journal, seed: 11) { region, tracer, generator, acknowledge in
      for round in 0..<14 {
        for _ in 0..<Int.random(in: 1...6, using: &generator) {
          let count = Int.random(in: 1...80, using: &generator)
          let offset = Int.random(in: 0...(region.size - count), using: &generator)
          let bytes = (0..<count).map { _ in UInt8.random(in: 1...255, using: &generator) }
          bytes.withUnsafeBytes { region.copy(from: $0, to: offset) }
        }
        region.store(UInt64(round), at: 8 * Int.random(in: 0..<64, using: &generator))
        if round % 5 == 4 {
          region.discard()
        } else {
          try Self.commit(region, tracer, acknowledge)
        }
      }
    }
    #expect(report.failures.count == 0, "\(report.failures.prefix(5).joined(separator: "\n"))")
    #expect(report.crashPoints > 10)
    #expect(report.imagesRecovered > 100)
    #expect(report.recoveryCrashImages > 0)
    #expect(report.recoveredStates.count >= 8, "recovered states: \(report.recoveredStates.sorted())")
  }

  @Test(arguments: Region.Journal.allCases)
  func bulkCopiesAndFillsAcrossManyLines(journal: Region.Journal) throws {
    let report = try simulate(journal: journal, seed: 12) { region, tracer, generator, acknowledge in
      for round in 0..<6 {
        let count = Int.random(in: 100...3000, using: &generator)
        region.fill(UInt8(round + 1), at: Int.random(in: 0...(region.size - count), using: &generator), count: count)
        region.copy(from: 0, to: region.size - 1000, count: 1000)
        try Self.commit(region, tracer, acknowledge)
      }
    }
    #expect(report.failures.count == 0, "\(report.failures.prefix(5).joined(separator: "\n"))")
    #expect(report.recoveredStates.count >= 6)
  }

  /// Enough commits that the redo log wraps around (checkpoint, then reuse from its start) several times.
  @Test(arguments: Region.Journal.allCases)
  func manyCommitsWrapTheLog(journal: Region.Journal) throws {
    let report = try simulate(journal: journal, size: 4096, seed: 13) { region, tracer, generator, acknowledge in
      for round in 0..<40 {
        for _ in 0..<Int.random(in: 1...12, using: &generator) {
          region.store(UInt32(round), at: 4 * Int.random(in: 0..<1024, using: &generator))
        }
        try Self.commit(region, tracer, acknowledge)
      }
    }
    #expect(report.failures.count == 0, "\(report.failures.prefix(5).joined(separator: "\n"))")
    #expect(report.recoveredStates.count >= 40)
  }
}
