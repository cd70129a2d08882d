import ArgumentParser
import Foundation
import Snapshot
import SnapshotVerification

struct CrashTest: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crash-test",
    abstract: "Check the crash guarantee: crash simulator, mutants, SIGKILL loop, recovery fuzzing.",
    discussion: "Prints the figures as Markdown on standard output and progress on standard error; "
      + "exits 1 when anything failed. The bounded default is what CI runs; --soak runs at least "
      + "10^7 crash images.")

  @Option(help: "Where to write region files and crash images (a tmpfs or DAX mount).")
  var directory = "/dev/shm"

  @Option(help: "A directory on an ordinary file system, for the SIGKILL loop of the file medium.")
  var diskDirectory = FileManager.default.temporaryDirectory.path

  @Flag(help: "A long run: at least 10^7 crash images, 2,000 kills per journal, 2,000,000 fuzz cases.")
  var soak = false

  @Option(help: "Seeds for the simulated workloads (comma-separated).")
  var seeds = "11,12,13"

  func run() throws {
    let folder = "\(directory)/snapshot-crash-test-\(getpid())"
    let diskFolder = "\(diskDirectory)/snapshot-crash-test-\(getpid())"
    for path in [folder, diskFolder] {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    defer {
      for path in [folder, diskFolder] { try? FileManager.default.removeItem(atPath: path) }
    }
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var reliability = Reliability(worker: [executable, "crash-test-worker"], diskDirectory: diskFolder)
    reliability.seeds = seeds.split(separator: ",").compactMap { UInt64($0) }
    if soak { reliability.soak() }
    let report = try reliability.run(directory: folder) { printError($0) }
    print(report.markdown())
    print("")
    print("### Model assumptions")
    print("")
    print(ReliabilityReport.modelAssumptions)
    let missed = report.missed(Reliability.Targets())
    print("")
    print(report.failures.isEmpty && missed.isEmpty
      ? "All targets met: every crash point visited, 0 failures, every catchable mutant caught, "
        + "\(report.images) crash images."
      : "NOT MET:\n" + (report.failures.prefix(20) + missed).map { "- \($0)" }.joined(separator: "\n"))
    if !report.failures.isEmpty || !missed.isEmpty { throw ExitCode.failure }
  }
}
