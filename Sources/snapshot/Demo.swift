import ArgumentParser
import Foundation
import Snapshot
import SnapshotVerification
import SystemPackage

/// The demonstration: tracked changes, msync, discard, then a child process killed again and again in
/// the middle of its commits, with the region reopened and checked after every kill.
struct Demo: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show failure-atomic msync at work: crash a writer mid-msync and recover.",
    discussion: "Creates a region in a temporary directory on /dev/shm (or --directory), makes tracked "
      + "changes and commits them, then starts a child process that changes random ranges and commits, "
      + "over and over, and kills it with SIGKILL at a random instant. After each kill it reopens the "
      + "region and checks that it holds, byte for byte, the last acknowledged commit or the one in "
      + "flight: never a mix.")

  @Option(help: "Where to create the region (a DAX or tmpfs mount).")
  var directory = "/dev/shm"

  @Option(help: "How many times to kill the writer.")
  var kills = 10

  @Option(help: "The commit protocol to demonstrate.")
  var journal: JournalArgument = .redo

  func run() throws {
    let folder = "\(directory)/snapshot-demo-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = FilePath("\(folder)/demo.region")

    print("1. Create a 1 MiB region at \(path) (\(journal.value) journal).")
    let region = try reportingErrors { () throws(SnapshotError) in
      try Region.create(at: path, size: 1 << 20, options: .init(backing: .persistentMemory, journal: journal.value))
    }
    let counter = region.pointer(to: UInt64.self, at: 0)
    counter.pointee = 41
    counter.pointee += 1
    let epoch = try reportingErrors { () throws(SnapshotError) in try region.msync() }
    print("2. Tracked stores, then msync: counter = \(counter.pointee), committed as epoch \(epoch).")
    counter.pointee = 1000
    try reportingErrors { () throws(SnapshotError) in try region.discard() }
    print("3. Store 1000, then discard(): counter = \(counter.pointee) again.")
    try reportingErrors { () throws(SnapshotError) in try region.close() }

    print("4. A child process fills random ranges and commits, in a loop; it is killed with SIGKILL")
    print("   at a random instant, \(kills) times, and the region is reopened after each kill.")
    var loop = KillLoop()
    loop.iterations = kills
    loop.configuration = .init(.persistentMemory, journal.value)
    loop.maximumDelay = .milliseconds(20)
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let report = try loop.run(worker: [executable, "crash-test-worker"], directory: folder) { kill in
      let when = kill.insideMsync
        ? "during msync of commit \(kill.begun)" : "after commit \(kill.acknowledged) returned"
      let found = kill.failure.map { "FAILED: \($0)" } ?? "holds exactly the commit it should"
      print("   kill \(kill.iteration): \(when); reopened: \(kill.recovery.map { "\($0)" } ?? "-"); \(found)")
    }
    guard report.failures.isEmpty else { throw ExitCode.failure }
    print("5. \(report.iterations) kills, \(report.insideMsync) of them inside msync: every reopen found one complete commit.")
  }
}

/// The child the demo and the crash test kill.
struct CrashTestWorker: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "crash-test-worker", shouldDisplay: false)

  @Argument var path: String
  @Option var seed: UInt64
  @Option var initialSize: Int
  @Flag var sql = false

  func run() throws {
    let announce = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    if sql {
      try SQLKillSubject.work(path: FilePath(path), seed: seed, announce: announce)
    } else {
      try KillLoop.work(path: FilePath(path), seed: seed, initialSize: initialSize, announce: announce)
    }
  }
}
