import Foundation
import Snapshot
import SystemPackage

/// Real process crashes: a child process commits again and again, announcing each msync before and
/// after on a pipe; the parent kills it with SIGKILL at a random instant, reopens the region and checks
/// that it holds the last acknowledged commit or the one in flight, byte for byte. A region with the
/// redo journal grows as the child commits (`size(epoch:initial:grows:)`), so kills also land in the
/// commits that grow it and in their recovery.
package struct KillLoop: Sendable {
  package var iterations = 200
  package var configuration = Workload.Configuration(.persistentMemory, .redo)
  package var regionSize = 1 << 20
  /// The redo log's resting size: 64 KiB, smaller than the largest commits (48 ranges of up to 4 KiB),
  /// so that the log grows for some commits and is cut back at the checkpoints after them while the
  /// child is being killed. The undo journal takes none.
  package var redoLogSize = 64 << 10
  package var seed: UInt64 = 7
  /// The longest wait, after the child's first acknowledged commit, before it is killed.
  package var maximumDelay = Duration.milliseconds(4)
  /// End the loop at the first kill that finds a failure.
  package var stopAtFirstFailure = false
  /// The child runs SQL bank transfers through the snapshot VFS (`SQLKillSubject`) instead of
  /// committing fills of the region.
  package var sql = false

  /// What one kill found.
  package struct Kill: Sendable {
    package var iteration: Int
    /// The last commit the child acknowledged, and the last it began.
    package var acknowledged: UInt64
    package var begun: UInt64
    /// What reopening the region did.
    package var recovery: RecoveryReport?
    package var failure: String?

    /// Whether the child died between announcing an msync and returning from it.
    package var insideMsync: Bool { begun > acknowledged }
  }

  package struct Report: Sendable {
    package var iterations = 0
    package var insideMsync = 0
    package var commitsAcknowledged: UInt64 = 0
    package var failures: [String] = []
  }

  package init() {}

  /// The changes of commit `epoch`: fills of random ranges, a function of the seed, the epoch and the
  /// region size only, so that the parent can compute every commit's contents.
  package static func changes(epoch: UInt64, seed: UInt64, regionSize: Int) -> [(offset: Int, count: Int, byte: UInt8)] {
    var generator = SeededGenerator(seed: seed &* 0x9E37_79B9 ^ epoch)
    return (0..<Int.random(in: 1...48, using: &generator)).map { _ in
      let count = Int.random(in: 1...min(4096, regionSize), using: &generator)
      return (Int.random(in: 0...(regionSize - count), using: &generator), count, UInt8.random(in: 0...255, using: &generator))
    }
  }

  /// The region's size at commit `epoch`, for a region created with `initial` bytes: one that `grows`
  /// gains 16 KiB every fourth commit, up to four times its first size.
  package static func size(epoch: UInt64, initial: Int, grows: Bool) -> Int {
    grows ? min(initial + Int(epoch / 4) * (16 << 10), 4 * initial) : initial
  }

  /// The child's loop: grow when the schedule says so, commit, announce, forever. Run by
  /// `snapshot crash-test-worker`.
  package static func work(path: FilePath, seed: UInt64, initialSize: Int, announce: (String) -> Void) throws {
    let region = try Region.open(at: path)
    while true {
      let next = region.epoch + 1
      try region.grow(to: size(epoch: next, initial: initialSize, grows: region.canGrow))
      for change in changes(epoch: next, seed: seed, regionSize: region.size) {
        region.fill(change.byte, at: change.offset, count: change.count)
      }
      announce("begin \(next)")
      try region.msync()
      announce("acknowledged \(next)")
    }
  }

  /// Runs the loop with `worker` as the child (an executable and arguments, to which `PATH --seed SEED`
  /// is appended), calling `observe` after every kill.
  package func run(worker: [String], directory: String, observe: (Kill) -> Void = { _ in }) throws -> Report {
    let path = FilePath("\(directory)/kill-loop-\(configuration.backing)-\(configuration.journal)\(sql ? "-sql" : "").region")
    let remove = {
      try? FileManager.default.removeItem(atPath: path.string)
      try? FileManager.default.removeItem(atPath: path.string + "-log")
    }
    remove()
    if sql {
      try SQLKillSubject.create(at: path, backing: configuration.backing)
    } else {
      try Region.create(
        at: path, size: regionSize,
        options: .init(backing: configuration.backing, journal: configuration.journal, logSize: configuration.journal == .redo ? redoLogSize : nil)
      ).close()
    }
    defer { remove() }
    var report = Report()
    let grows = configuration.journal == .redo
    var model = [UInt8](repeating: 0, count: regionSize)
    var modelEpoch: UInt64 = 0
    var generator = SeededGenerator(seed: seed)
    /// Why the reopened region is not what `kill` may leave, or nil; notes what recovery did.
    func checkRegion(_ kill: inout Kill) -> String? {
      do {
        let region = try Region.open(at: path)
        kill.recovery = region.recovery
        let epoch = region.epoch
        var failure: String?
        if epoch != kill.acknowledged && !(kill.insideMsync && epoch == kill.begun) {
          failure = "reopened at epoch \(epoch); acknowledged \(kill.acknowledged), in flight \(kill.insideMsync ? "\(kill.begun)" : "none")"
        } else {
          while modelEpoch < epoch {
            modelEpoch += 1
            let size = Self.size(epoch: modelEpoch, initial: regionSize, grows: grows)
            model += repeatElement(0, count: size - model.count)
            for change in Self.changes(epoch: modelEpoch, seed: seed, regionSize: size) {
              model.replaceSubrange(change.offset..<change.offset + change.count, with: repeatElement(change.byte, count: change.count))
            }
          }
          if region.size != model.count {
            failure = "epoch \(epoch) has \(region.size) bytes, not the \(model.count) of that commit"
          } else if !region.withUnsafeBytes({ $0.elementsEqual(model) }) {
            failure = "epoch \(epoch) holds bytes that commit did not write (a torn state)"
          }
        }
        try region.close()
        return failure
      } catch {
        return "reopening failed: \(error)"
      }
    }
    for iteration in 1...iterations {
      let (acknowledged, begun) = try killChild(worker: worker, path: path, generator: &generator)
      var kill = Kill(iteration: iteration, acknowledged: acknowledged, begun: begun)
      kill.failure = sql ? SQLKillSubject.check(path: path, acknowledged: acknowledged, begun: begun) : checkRegion(&kill)
      report.iterations += 1
      if kill.insideMsync { report.insideMsync += 1 }
      report.commitsAcknowledged = max(report.commitsAcknowledged, acknowledged)
      observe(kill)
      if let failure = kill.failure {
        report.failures.append("kill \(iteration): \(failure)")
        if stopAtFirstFailure { break }
      }
    }
    return report
  }

  /// Starts the child, waits for its first acknowledged commit, kills it after a random delay, and
  /// returns the last epoch it acknowledged and the last it began.
  private func killChild(worker: [String], path: FilePath, generator: inout SeededGenerator) throws -> (UInt64, UInt64) {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: worker[0])
    child.arguments = Array(worker.dropFirst()) + [path.string, "--seed", "\(seed)", "--initial-size", "\(regionSize)"] + (sql ? ["--sql"] : [])
    let output = Pipe()
    child.standardOutput = output
    try child.run()
    var lines = LineReader(handle: output.fileHandleForReading)
    var acknowledged: UInt64 = 0
    var begun: UInt64 = 0
    func note(_ line: String) {
      let words = line.split(separator: " ")
      guard words.count == 2, let epoch = UInt64(words[1]) else { return }
      if words[0] == "begin" { begun = epoch } else if words[0] == "acknowledged" { acknowledged = epoch }
    }
    // Every fourth child lives through 20 to 80 commits first, enough to fill its log several times,
    // so that kills also land after checkpoints of the same handle.
    var lifetime: UInt64? = nil
    if Int.random(in: 0..<4, using: &generator) == 0 { lifetime = .random(in: 20...80, using: &generator) }
    var first: UInt64?
    while let line = lines.next() {
      note(line)
      guard line.hasPrefix("acknowledged") else { continue }
      first = first ?? acknowledged
      if acknowledged >= first! + (lifetime ?? 0) { break }
    }
    let (seconds, attoseconds) = maximumDelay.components
    let nanoseconds = max(1, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    var pause = timespec(tv_sec: 0, tv_nsec: Int.random(in: 0..<nanoseconds, using: &generator))
    nanosleep(&pause, nil)
    let exitedByItself = !child.isRunning
    kill(child.processIdentifier, SIGKILL)
    child.waitUntilExit()
    if exitedByItself {
      throw ChildExited(status: child.terminationStatus, acknowledged: acknowledged)
    }
    // What the child wrote before it died tells how far it got.
    while let line = lines.next() { note(line) }
    return (acknowledged, begun)
  }
}

/// The kill loop's child died before it was killed: it failed, and the loop tests nothing.
struct ChildExited: Error, CustomStringConvertible {
  var status: Int32
  var acknowledged: UInt64

  var description: String { "the child exited by itself with status \(status), after acknowledging commit \(acknowledged)" }
}

/// Reads a pipe line by line.
package struct LineReader {
  let handle: FileHandle
  private var buffer = Data()

  package init(handle: FileHandle) {
    self.handle = handle
  }

  package mutating func next() -> String? {
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
