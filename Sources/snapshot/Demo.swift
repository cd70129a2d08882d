import ArgumentParser
import Foundation
import Snapshot
import SystemPackage

/// The demonstration: tracked changes, msync, discard, then a child process killed again and again in
/// the middle of msync, with the region reopened and checked after every kill.
struct Demo: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show failure-atomic msync at work: crash a writer mid-msync and recover.",
    discussion: "Creates a region in a temporary directory on /dev/shm (or --directory), makes tracked "
      + "changes and commits them, then starts a child process that fills the whole region with a new "
      + "byte value and commits, over and over, and kills it with SIGKILL at a random instant while it "
      + "commits. After each kill it reopens the region and checks that every byte holds one value: the "
      + "last acknowledged commit's or the interrupted one's, never a mix.")

  @Option(help: "Where to create the region (a DAX or tmpfs mount).")
  var directory = "/dev/shm"

  @Option(help: "The region size.")
  var size = ByteCount(argument: "32M")!

  @Option(help: "How many times to kill the writer.")
  var kills = 8

  @Option(help: "The commit protocol to demonstrate.")
  var journal: JournalArgument = .redo

  func run() throws {
    let folder = "\(directory)/snapshot-demo-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = FilePath("\(folder)/demo.region")

    print("1. Create a \(size.bytes >> 20) MiB region at \(path) (\(journal.value) journal).")
    let region = try reportingErrors { () throws(SnapshotError) in
      try Region.create(at: path, size: size.bytes, options: .init(journal: journal.value))
    }
    let greeting = region.pointer(to: Greeting.self, at: 0)
    greeting.count = 41
    greeting.count += 1
    let epoch = try reportingErrors { () throws(SnapshotError) in try region.msync() }
    print("2. Tracked stores, then msync: count = \(greeting.count), committed as epoch \(epoch).")
    greeting.count = 1000
    region.discard()
    print("3. Store 1000, then discard(): count = \(greeting.count) again.")
    try reportingErrors { () throws(SnapshotError) in try region.close() }

    print("4. A child process fills all \(size.bytes >> 20) MiB with a new byte value and commits, in a loop;")
    print("   it is killed with SIGKILL at a random instant while it commits, \(kills) times.")
    var inside = 0
    for round in 1...kills {
      let kill = try killWriter(path: path, seed: UInt64(round))
      let reopened = try reportingErrors { () throws(SnapshotError) in try Region.open(at: path) }
      let verdict = check(reopened, kill: kill)
      if kill.insideMsync { inside += 1 }
      let when = kill.insideMsync
        ? "during msync of commit \(kill.inFlight)" : "after commit \(kill.acknowledged) returned"
      print("   kill \(round): \(when); reopened: \(reopened.recovery); \(verdict.message)")
      try reportingErrors { () throws(SnapshotError) in try reopened.close() }
      guard verdict.consistent else { throw ExitCode.failure }
    }
    print("5. \(kills) kills, \(inside) of them inside msync: every reopen found one complete commit.")
  }

  struct Kill {
    var acknowledged: UInt64
    var inFlight: UInt64
    var insideMsync: Bool
  }

  /// Starts the writer, lets it commit a few times, kills it during a later commit.
  private func killWriter(path: FilePath, seed: UInt64) throws -> Kill {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let child = Process()
    child.executableURL = URL(fileURLWithPath: executable)
    child.arguments = ["demo-worker", path.string]
    let output = Pipe()
    child.standardOutput = output
    try child.run()
    var lines = LineReader(handle: output.fileHandleForReading)
    var generator = SystemRandomNumberGenerator()
    var acknowledged: UInt64 = 0
    var inFlight: UInt64 = 0
    var commitTime = 0.005
    var begun = Date()
    let wanted = Int.random(in: 2...4, using: &generator)
    var seen = 0
    while let line = lines.next() {
      let words = line.split(separator: " ")
      guard words.count == 2, let number = UInt64(words[1]) else { continue }
      if words[0] == "begin" {
        inFlight = number
        begun = Date()
        if seen >= wanted {
          usleep(UInt32(Double.random(in: 0..<commitTime, using: &generator) * 1_000_000))
          kill(child.processIdentifier, SIGKILL)
          break
        }
      } else if words[0] == "acknowledged" {
        acknowledged = number
        commitTime = max(0.001, Date().timeIntervalSince(begun))
        seen += 1
      }
    }
    child.waitUntilExit()
    // What the writer printed before it died tells whether its msync had returned.
    while let line = lines.next() {
      if line == "acknowledged \(inFlight)" { acknowledged = inFlight }
    }
    return Kill(acknowledged: acknowledged, inFlight: inFlight, insideMsync: acknowledged != inFlight)
  }

  /// Checks that the region holds exactly one commit: every byte after the greeting holds one value,
  /// the acknowledged commit's or the interrupted one's.
  private func check(_ region: Region, kill: Kill) -> (consistent: Bool, message: String) {
    let value = region.load(UInt8.self, at: Greeting.size)
    let uniform = region.withUnsafeBytes { bytes in bytes[Greeting.size...].allSatisfy { $0 == value } }
    let allowed = Set([kill.acknowledged, kill.inFlight])
    guard uniform else { return (false, "TORN: bytes of different commits are mixed") }
    guard allowed.contains(region.epoch), DemoWorker.fillValue(epoch: region.epoch) == value else {
      return (false, "WRONG: epoch \(region.epoch) with byte \(value), expected one of commits \(allowed.sorted())")
    }
    return (true, "all \(region.size - Greeting.size) bytes hold commit \(region.epoch)'s value")
  }
}

/// The demo's first line of the region.
struct Greeting {
  static let size = 64
  var count: UInt64
}

/// The writer the demo kills: fills the region with a value derived from the next epoch and commits,
/// forever, announcing each commit before and after msync.
struct DemoWorker: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "demo-worker", shouldDisplay: false)

  @Argument var path: String

  static func fillValue(epoch: UInt64) -> UInt8 {
    UInt8(truncatingIfNeeded: epoch % 251 + 1)
  }

  func run() throws {
    let region = try reportingErrors { () throws(SnapshotError) in try Region.open(at: FilePath(path)) }
    while true {
      let next = region.epoch + 1
      region.fill(Self.fillValue(epoch: next), at: Greeting.size, count: region.size - Greeting.size)
      announce("begin \(next)")
      let epoch = try reportingErrors { () throws(SnapshotError) in try region.msync() }
      announce("acknowledged \(epoch)")
    }
  }

  private func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }
}

/// Reads a pipe line by line.
struct LineReader {
  let handle: FileHandle
  private var buffer = Data()

  init(handle: FileHandle) {
    self.handle = handle
  }

  mutating func next() -> String? {
    while true {
      if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
        buffer.removeSubrange(buffer.startIndex...newline)
        return line
      }
      let chunk = handle.availableData
      if chunk.isEmpty { return nil }
      buffer.append(chunk)
    }
  }
}
