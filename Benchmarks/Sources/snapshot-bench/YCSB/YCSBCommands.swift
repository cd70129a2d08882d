import ArgumentParser
import Foundation
import Snapshot
import YCSB

/// One engine, one workload, one medium, in a process of its own (the parent runs it): a fresh process
/// per run keeps the engines' memory, page cache and PMDK's settings apart.
struct YCSBRun: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ycsb-run", abstract: "One engine on one YCSB workload (used by ycsb).", shouldDisplay: false)

  @Option var engine: EngineKind
  @Option var medium: MediumKind
  @Option var workload: String
  @Option var index: IndexKind
  @Option var directory: String
  @Option var records: Int
  @Option var operations: Int
  @Option var commitEvery = 1
  @Option var seed: UInt64 = 1
  @Option(help: "cxl: bytes the emulated device's cache holds.") var deviceCache: Int?
  @Option(help: "cxl: nanoseconds an access outside the device's cache costs.") var deviceLatency: Int?
  @Flag(help: "Reserve address space for the region's size only, not the largest region (valgrind cannot reserve 256 GiB).")
  var exactReservation = false

  func run() throws {
    // PMDK reads this when it first checks a mapping: cache flushes on byte-addressable media, msync on files.
    setenv("PMEM_IS_PMEM_FORCE", medium.isByteAddressable ? "1" : "0", 1)
    let spec = try WorkloadSpec.named(workload)
    var device: DeviceLatencyModel?
    if medium == .cxl {
      guard let deviceCache, let deviceLatency else { throw ValidationError("cxl needs --device-cache and --device-latency") }
      device = DeviceLatencyModel(cacheBytes: deviceCache, missLatency: .nanoseconds(deviceLatency))
    }
    let runner = YCSBRunner(
      spec: spec, medium: medium, kind: engine, records: records, operations: operations, commitEvery: commitEvery, seed: seed,
      directory: directory, device: device)
    let result = try withEngine(
      engine, medium: medium, index: index, directory: directory,
      bytes: YCSBRunner.bytesNeeded(records: YCSBRunner.capacity(spec, records: records, operations: operations)),
      device: device, exactReservation: exactReservation, runner)
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    print(String(decoding: try encoder.encode(result), as: UTF8.self))
  }
}

extension EngineKind: ExpressibleByArgument {}
extension MediumKind: ExpressibleByArgument {}
extension IndexKind: ExpressibleByArgument {}
