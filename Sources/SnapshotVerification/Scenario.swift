import Foundation
import Snapshot
import SystemPackage

/// The data of one commit, as the workload saw it when it called msync.
package struct CommittedState: Sendable, Equatable {
  package var epoch: UInt64
  package var data: [UInt8]
}

/// A recorded run: the file before it, every durable write and workload note, and the committed
/// states the notes refer to.
package struct Scenario: Sendable {
  package var workload: String
  package var backing: Region.Backing
  package var journal: Region.Journal
  package var emulatesCXL: Bool
  package var faults: Fault
  /// The files before the trace; on the file medium the trace starts with their creation, so their
  /// names are durable only once the trace shows the directory synced.
  package var initialImage: CrashImage
  package var trace: [TraceEvent]
  package var states: [CommittedState]
  package var operations: Int
  package var msyncs: Int
  /// Checks the run made as it went (discard restoring the last commit, reopen recovering it).
  package var failures: [String]
  /// The workload's own check of every recovered region.
  package var invariant: (@Sendable (Region) -> String?)?
}

/// Runs a workload on a fresh region with a tracing medium and records it as a `Scenario`.
///
/// A workload on a region shared by threads calls `msync`, `commit` and `count` from any of them: the
/// recorder notes each committed state as the commit takes it, and each return with the state of the
/// commit that covered it, which another thread's may be.
package final class ScenarioRecorder: @unchecked Sendable {
  package private(set) var region: Region
  private let path: FilePath
  private let trace = Trace()
  private let backing: Region.Backing
  private let emulatesCXL: Bool
  private let tracking: Region.Tracking
  private let threads: Region.Threads
  /// The largest size the region may grow to, at creation and every reopen.
  private let maximumSize: Int?
  private let faults: Fault
  /// The system call on the region's files that a workload makes fail next.
  package let fileFailures = FileCallFailure()
  /// Guards the notes.
  private let lock = NSLock()
  /// Separate, so that counting never waits for an msync on another thread.
  private let countLock = NSLock()
  private let initialImage: CrashImage
  private var states: [CommittedState]
  private var acknowledged = 0
  /// The newest state a commit took whose msync has not returned (it is running, or it failed).
  private var inFlight: Int?
  private var failures: [String] = []
  private var operationCount = 0
  /// The operations counted so far (on any thread).
  package var operations: Int { countLock.withLock { operationCount } }
  package private(set) var msyncs = 0

  package init(
    path: FilePath, size: Int, logSize: Int? = nil, backing: Region.Backing, journal: Region.Journal, emulatingCXL: Bool = false,
    tracking: Region.Tracking, threads: Region.Threads = .one, maximumSize: Int? = nil, faults: Fault
  ) throws {
    self.maximumSize = maximumSize
    self.path = path
    self.backing = backing
    self.emulatesCXL = emulatingCXL
    self.tracking = tracking
    self.threads = threads
    self.faults = faults
    switch backing {
    case .persistentMemory:
      let options = Region.CreateOptions(backing: .persistentMemory, journal: journal, logSize: logSize, maximumSize: maximumSize)
      // Created through the entry point a user of each medium calls; the trace starts at the reopen.
      let created = emulatingCXL
        ? try Region.create(at: path, size: size, options: options, emulating: DeviceLatencyModel(cacheBytes: 1 << 20, missLatency: .zero))
        : try Region.create(at: path, size: size, options: options)
      try created.close()
      initialImage = try CrashImage.read(from: path, backing: backing)
      region = try TracingPersistentMemory.open(
        at: path, trace: trace, faults: faults, failures: fileFailures, emulatingCXL: emulatingCXL, tracking: tracking, threads: threads,
        maximumSize: maximumSize)
    case .file:
      region = try TracingFileMedium.create(
        at: path, size: size, logSize: logSize, trace: trace, faults: faults, failures: fileFailures, tracking: tracking, threads: threads,
        maximumSize: maximumSize)
      initialImage = try CrashImage.read(from: path, backing: backing)
      trace.append(.created)
    }
    states = [CommittedState(epoch: 0, data: region.withUnsafeBytes { Array($0) })]
  }

  /// Counts one operation of the workload (a store, copy or fill).
  package func count() {
    countLock.withLock { operationCount += 1 }
  }

  /// Notes a failure the workload saw (on a thread that cannot throw).
  package func fail(_ message: String) {
    lock.withLock { failures.append(message) }
  }

  /// msync, with the notes the simulator needs: the state a commit takes, then the one acknowledged.
  package func msync() throws {
    let entry = lock.withLock { states.count }
    var own: (state: Int, epoch: UInt64)?
    let epoch = try region.msync { [self] working, commits in own = begin(working, commits) }
    acknowledge(epoch, own: own, entry: entry)
  }

  /// `Region.commit` of the change `body` makes, with the same notes as `msync()`.
  package func commit(_ body: () -> Void) throws {
    let entry = lock.withLock { states.count }
    var own: (state: Int, epoch: UInt64)?
    let epoch = try region.commit(observing: { [self] working, commits in own = begin(working, commits) }, body).epoch
    acknowledge(epoch, own: own, entry: entry)
  }

  /// Notes the state a commit takes; called by the committing thread while no change is in progress.
  private func begin(_ working: UnsafeRawBufferPointer, _ commits: Bool) -> (state: Int, epoch: UInt64) {
    lock.withLock {
      let expected = commits ? region.epoch + 1 : region.epoch
      states.append(CommittedState(epoch: expected, data: Array(working)))
      inFlight = states.count - 1
      trace.append(.msyncBegins(state: states.count - 1))
      return (states.count - 1, expected)
    }
  }

  /// Notes that an msync (or commit) returned `epoch`. One that committed (`own`) must return its
  /// commit's epoch. One that did not was covered by another thread's commit, which must have taken
  /// its lines after it was called: a state noted since `entry`.
  private func acknowledge(_ epoch: UInt64, own: (state: Int, epoch: UInt64)?, entry: Int) {
    lock.withLock {
      let state: Int
      if let own {
        if epoch != own.epoch { failures.append("msync returned epoch \(epoch), expected \(own.epoch)") }
        state = own.state
      } else if let covering = states.indices.last(where: { states[$0].epoch == epoch }), covering >= entry {
        state = covering
      } else {
        failures.append("an msync that did not commit returned epoch \(epoch), which no commit that began after its call has")
        return
      }
      trace.append(.msyncReturned(state: state))
      acknowledged = max(acknowledged, state)
      if let inFlight, inFlight <= acknowledged { self.inFlight = nil }
      msyncs += 1
    }
  }

  /// discard, checked: the working copy must equal the last acknowledged commit.
  package func discard() throws {
    try region.discard()
    if region.withUnsafeBytes({ Array($0) }) != states[acknowledged].data {
      failures.append("discard after commit \(states[acknowledged].epoch) did not restore it")
    }
  }

  /// Kills the process (as far as the region can tell), reopens the file, and checks that recovery
  /// found the last acknowledged commit.
  package func crashAndReopen() throws {
    trace.append(.processCrash)
    region.abandon()
    region = try reopen()
    let expected = states[acknowledged]
    if region.epoch != expected.epoch || region.withUnsafeBytes({ Array($0) }) != expected.data {
      failures.append("reopening after a process crash recovered epoch \(region.epoch), not commit \(expected.epoch)")
    }
    trace.append(.recovered(state: acknowledged))
  }

  /// After a system call failed: abandons the handle, reopens the file and checks that recovery found
  /// the last acknowledged commit or the one whose msync failed. With `failingFirst`, the first open
  /// meets that call failing and must refuse; the second must recover.
  package func reopenAfterFailure(failingFirst call: (FileCallFailure.Call, Errno, skipped: Int)? = nil) throws {
    trace.append(.processCrash)
    region.abandon()
    if let (call, errno, skipped) = call {
      fileFailures.arm(call, with: errno, after: skipped)
      if let opened = try? reopen() {
        failures.append("opening with \(call) failing (\(errno)) did not refuse")
        region = opened
      }
      if !fileFailures.disarm() { failures.append("opening the region made no \(call)") }
      trace.append(.processCrash)
      region.abandon()
    }
    region = try reopen()
    let candidates = [acknowledged] + (inFlight.map { [$0] } ?? [])
    let data = region.withUnsafeBytes { Array($0) }
    guard let found = candidates.first(where: { states[$0].epoch == region.epoch && states[$0].data == data }) else {
      failures.append(
        "reopening after a failed system call recovered epoch \(region.epoch) with data of none of commits \(candidates.map { states[$0].epoch })")
      return
    }
    acknowledged = found
    inFlight = nil
    trace.append(.recovered(state: found))
  }

  private func reopen() throws(SnapshotError) -> Region {
    backing == .file
      ? try TracingFileMedium.open(
        at: path, trace: trace, faults: faults, failures: fileFailures, tracking: tracking, threads: threads, maximumSize: maximumSize)
      : try TracingPersistentMemory.open(
        at: path, trace: trace, faults: faults, failures: fileFailures, emulatingCXL: emulatesCXL, tracking: tracking, threads: threads,
        maximumSize: maximumSize)
  }

  /// Closes the region and returns the run.
  package func finish(workload: String) throws -> Scenario {
    try region.close()
    return Scenario(
      workload: workload, backing: backing, journal: region.journalKind, emulatesCXL: emulatesCXL, faults: faults, initialImage: initialImage,
      trace: trace.events, states: states, operations: operations, msyncs: msyncs, failures: failures,
      invariant: nil)
  }
}
