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

  @Option(help: "Run only these parts (comma-separated: \(Reliability.Phase.allCases.map(\.rawValue).joined(separator: ", "))).")
  var only: String?

  @Flag(help: "End the run at its first failure (for checking a planted bug: only whether it is caught matters).")
  var stopAtFirstFailure = false

  @Option(help: "Run only the mutants whose name contains this text.")
  var mutants: String?

  /// Set by the supervising process on the process that does the work.
  @Option(help: .hidden)
  var scratchName: String?

  /// Makes the working process trap as the named part begins, to test the supervisor's report.
  @Option(help: .hidden)
  var trapIn: String?

  func validate() throws {
    for name in only?.split(separator: ",") ?? [] where Reliability.Phase(rawValue: String(name)) == nil {
      throw ValidationError("no part named '\(name)'; the parts are \(Reliability.Phase.allCases.map(\.rawValue).joined(separator: ", "))")
    }
  }

  func run() throws {
    guard let scratchName else { return try supervise() }
    let folder = "\(directory)/\(scratchName)"
    let diskFolder = "\(diskDirectory)/\(scratchName)"
    var reliability = Reliability(worker: [try Self.executable(), "crash-test-worker"], diskDirectory: diskFolder)
    reliability.seeds = seeds.split(separator: ",").compactMap { UInt64($0) }
    if soak { reliability.soak() }
    reliability.stopAtFirstFailure = stopAtFirstFailure
    if let mutants { reliability.mutants = Mutant.all.filter { $0.name.contains(mutants) } }
    if let only { reliability.phases = Set(only.split(separator: ",").compactMap { Reliability.Phase(rawValue: String($0)) }) }
    let trapLine = trapIn.flatMap(Reliability.Phase.init(rawValue:))?.heading
    let report = try reliability.run(directory: folder) { line in
      printError(line)
      if line == trapLine { fatalError("trap requested in \(trapIn!)") }
    }
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
