import Dispatch
import Foundation
import SystemPackage
import Testing
@testable import Snapshot
import SnapshotVerification
import SnapshotTestSupport

/// Regions shared by threads: every thread's changes in one commit, changes never split by a
/// concurrent msync, and the options that cannot be shared rejected.
@Suite struct ThreadsTests {
  static let media: [Region.Backing] = [.persistentMemory, .file]

  /// Threads store into their own slices and into shared lines (different bytes of the same line);
  /// one msync from the main thread commits all of it.
  @Test(arguments: media)
  func oneMsyncCommitsEveryThreadsStores(medium: Region.Backing) throws {
    let directory = TestDirectory(onDisk: medium == .file)
    let path = directory.file("region")
    let threads = 4, perThread = 2000
    let region = try Region.create(at: path, size: 1 << 20, options: .init(backing: medium, threads: .many))
    #expect(region.threads == .many)
    onThreads(threads) { thread in
      for index in 0..<perThread {
        region.store(UInt64(thread << 32 | index), at: 4096 + (thread * perThread + index) * 8)
        region.store(UInt8(thread + 1), at: index % 64 * 8 + thread)  // eight shared lines
      }
    }
    region._changes.shared!._checkInvariants()
    #expect(region.dirtyLineCount == 8 + threads * perThread * 8 / 64)
    #expect(try region.msync() == 1)
    #expect(!region.hasChanges)
    region._changes.shared!._checkInvariants()
    try region.close()

    let reopened = try Region.open(at: path)
    for thread in 0..<threads {
      for index in 0..<perThread {
        #expect(reopened.load(UInt64.self, at: 4096 + (thread * perThread + index) * 8) == UInt64(thread << 32 | index))
      }
      #expect(reopened.load(UInt8.self, at: 63 * 8 + thread) == UInt8(thread + 1))
    }
    try reopened.close()
  }

  /// Copies that span several words of the dirty-line bitmap (64 lines each), from two threads whose
  /// ranges overlap in part: each line is listed once, by the thread that marked it first, and one
  /// msync commits every byte.
  @Test func copiesAcrossBitmapWordsMarkEachLineOnce() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 1 << 20, options: .init(threads: .many))
    // Thread 0 writes bytes 4000..<13000 (lines 62...203); thread 1 bytes 12000..<21000 (187...328).
    let ranges = [4000..<13000, 12000..<21000]
    onThreads(2) { thread in
      let bytes = [UInt8](repeating: UInt8(thread + 1), count: ranges[thread].count)
      region.change { bytes.withUnsafeBytes { region.copy(from: $0, to: ranges[thread].lowerBound) } }
    }
    region._changes.shared!._checkInvariants()
    #expect(region.dirtyLineCount == 328 - 62 + 1)
    #expect(try region.msync() == 1)
    region._changes.shared!._checkInvariants()
    try region.close()

    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt8.self, at: 3999) == 0)
    for thread in 0..<2 {
      for offset in ranges[thread] where !ranges[1 - thread].contains(offset) {
        #expect(reopened.load(UInt8.self, at: offset) == UInt8(thread + 1))
      }
    }
    #expect(reopened.load(UInt8.self, at: 21000) == 0)
    try reopened.close()
  }

  /// A thread's msync commits what another thread stored before it.
  @Test func msyncOnAnotherThreadCommitsTheStores() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 1 << 16, options: .init(threads: .many))
    region.change { region.store(UInt64(42), at: 1000) }
    let epoch = Locked<UInt64?>(nil)
    onThreads(1) { _ in epoch.withLock { $0 = try? region.msync() } }
    #expect(epoch.withLock { $0 } == 1)
    region.abandon()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt64.self, at: 1000) == 42)
    try reopened.close()
  }

  /// Writers move amounts between their accounts inside changes while another thread commits over
  /// and over; the process then dies without a last msync. The recovered state is one commit's: every
  /// thread's accounts hold their total, and each thread's record matches its change counter.
  @Test(arguments: media)
  func concurrentCommitsNeverSplitAChange(medium: Region.Backing) throws {
    let directory = TestDirectory(onDisk: medium == .file)
    let path = directory.file("region")
    let writers = 3, commits = medium == .file ? 40 : 400
    let layout = TransferLayout(writers: writers)
    let region = try Region.create(at: path, size: layout.size, options: .init(backing: medium, threads: .many))
    layout.fund(region)
    try region.msync()

    let stop = Locked(false)
    let changes = Locked(Array(repeating: 0, count: writers))
    onThreads(writers + 1) { thread in
      if thread == writers {
        for _ in 0..<commits {
          // Each commit once every writer has moved on: the commits meet changes in progress.
          let before = changes.withLock { $0 }
          while zip(changes.withLock { $0 }, before).contains(where: { $0 <= $1 }) { sched_yield() }
          _ = try? region.msync()
        }
        stop.withLock { $0 = true }
        return
      }
      // A generator with state of its own: every thread's zero-sized SystemRandomNumberGenerator
      // shares one address, which the thread sanitizer's exclusivity check reports as a race.
      var generator = SeededGenerator(seed: UInt64(thread) &+ 1)
      var count = 0
      while !stop.withLock({ $0 }) {
        count += 1
        region.change { layout.transfer(in: region, writer: thread, change: count, using: &generator) }
        changes.withLock { $0[thread] = count }
      }
    }
    region.abandon()

    let reopened = try Region.open(at: path)
    #expect(layout.violation(in: reopened) == nil)
    let recovered = layout.changes(in: reopened)
    for writer in 0..<writers {
      #expect(recovered[writer] <= changes.withLock { $0[writer] })
    }
    #expect(recovered.reduce(0, +) > 0, "some commit held changes")
    try reopened.close()
  }

  /// Threads keep storing while another thread commits; after they stop, one more msync commits the
  /// rest: nothing is lost, whatever the interleaving.
  @Test func storesDuringOtherThreadsCommitsAreNotLost() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let writers = 2, stores = 20000
    let region = try Region.create(at: path, size: 1 << 20, options: .init(threads: .many))
    let done = Locked(0)
    onThreads(writers + 1) { thread in
      if thread == writers {
        while done.withLock({ $0 }) < writers { _ = try? region.msync() }
        return
      }
      for index in 0..<stores {
        region.change { region.store(UInt32(index + 1), at: (thread * stores + index) * 4) }
      }
      done.withLock { $0 += 1 }
    }
    try region.msync()
    region.abandon()
    let reopened = try Region.open(at: path)
    for thread in 0..<writers {
      for index in 0..<stores where reopened.load(UInt32.self, at: (thread * stores + index) * 4) != UInt32(index + 1) {
        Issue.record("thread \(thread)'s store \(index) was lost")
        break
      }
    }
    try reopened.close()
  }

  @Test func discardForgetsEveryThreadsChanges() throws {
    let directory = TestDirectory()
    let region = try Region.create(at: directory.file("region"), size: 1 << 16, options: .init(threads: .many))
    region.store(UInt64(7), at: 0)
    try region.msync()
    onThreads(2) { thread in
      region.change { region.store(UInt64(100 + thread), at: thread * 8) }
      region.store(UInt64(200 + thread), at: 8192 + thread * 4096)
    }
    #expect(region.dirtyLineCount == 3)
    try region.discard()
    #expect(!region.hasChanges)
    #expect(region.load(UInt64.self, at: 0) == 7)
    #expect(region.load(UInt64.self, at: 8) == 0)
    #expect(region.load(UInt64.self, at: 8192) == 0)
    region._changes.shared!._checkInvariants()
    try region.close()
  }

  /// A store outside `change` made while another thread's msync takes the lines is caught in debug
  /// builds (this test target is one). The writer stores without pause; the process must trap.
  @Test func aStoreRacingWithMsyncTrapsInDebugBuilds() async throws {
    let result = try await #require(processExitsWith: .signal(SIGILL), observing: [\.standardErrorContent]) {
      let directory = TestDirectory()
      let region = try Region.create(at: directory.file("region"), size: 1 << 20, options: .init(threads: .many))
      // This process ends in a trap, before any cleanup: the open region needs no name.
      try FileManager.default.removeItem(atPath: directory.path)
      Thread {
        var value: UInt64 = 0
        while true {
          value &+= 1
          region.store(value, at: Int(value % 16384) * 64)
        }
      }.start()
      let deadline = ContinuousClock.now + .seconds(20)
      while ContinuousClock.now < deadline { try region.msync() }
    }
    #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("a store raced with msync or discard"))
  }

  /// Threads each commit their own changes with `Region.commit`, sharing commits; each call returns
  /// only once its change is durable: after the process dies, every returned change is there.
  @Test(arguments: media)
  func commitReturnsOnceTheChangeIsDurable(medium: Region.Backing) throws {
    let directory = TestDirectory(onDisk: medium == .file)
    let path = directory.file("region")
    let threads = 3, commits = medium == .file ? 50 : 2000
    let region = try Region.create(at: path, size: 1 << 16, options: .init(backing: medium, threads: .many))
    let returned = Locked(Array(repeating: 0, count: threads))
    onThreads(threads) { thread in
      for count in 1...commits {
        do {
          // The counters share a line: each commit takes the others' finished changes with it.
          let stored = try region.commit { region.store(UInt64(count), at: thread * 8); return count }
          returned.withLock { $0[thread] = stored }
        } catch {
          Issue.record("commit on thread \(thread): \(error)")
          return
        }
      }
    }
    #expect(region.epoch <= UInt64(threads * commits))
    region.abandon()
    let reopened = try Region.open(at: path)
    for thread in 0..<threads {
      #expect(reopened.load(UInt64.self, at: thread * 8) == UInt64(returned.withLock { $0[thread] }))
    }
    try reopened.close()
  }

  /// A change committed with `Region.commit` while another thread's msync waits for it is made
  /// durable by that msync's commit: one commit for both calls.
  @Test func commitSharesTheCommitOfAnMsyncWaitingForIt() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 1 << 16, options: .init(threads: .many))
    let halfDone = DispatchSemaphore(value: 0)
    onThreads(2) { thread in
      guard thread == 0 else {
        halfDone.wait()
        #expect(throws: Never.self) { try region.msync() }
        return
      }
      #expect(throws: Never.self) {
        try region.commit {
          region.store(UInt64(1), at: 0)
          halfDone.signal()
          while !region.isWaitingForChanges { sched_yield() }
          region.store(UInt64(2), at: 4096)
        }
      }
    }
    #expect(region.epoch == 1)
    region.abandon()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt64.self, at: 0) == 1 && reopened.load(UInt64.self, at: 4096) == 2)
    try reopened.close()
  }

  @Test func commitOnOneThreadIsAChangeAndAnMsync() throws {
    let directory = TestDirectory()
    let path = directory.file("region")
    let region = try Region.create(at: path, size: 1 << 16)
    #expect(try region.commit { region.store(UInt64(7), at: 64); return "done" } == "done")
    #expect(region.epoch == 1 && !region.hasChanges)
    region.abandon()
    let reopened = try Region.open(at: path)
    #expect(reopened.load(UInt64.self, at: 64) == 7)
    try reopened.close()
  }

  @Test func changesNestAndReturnTheirResult() throws {
    let directory = TestDirectory()
    let region = try Region.create(at: directory.file("region"), size: 1 << 16, options: .init(threads: .many))
    let result = region.change { region.change { region.store(UInt8(1), at: 0); return 5 } + 1 }
    #expect(result == 6)
    #expect(try region.msync() == 1)
    try region.close()
  }

  @Test func whatCannotBeSharedIsRejected() throws {
    let directory = TestDirectory()
    #expect {
      try Region.create(at: directory.file("undo"), size: 1 << 16, options: .init(journal: .undo, threads: .many))
    } throws: { error in
      guard case SnapshotError.invalidOptions(let reason) = error else { return false }
      return reason.contains("redo journal")
    }
    #expect {
      try Region.create(at: directory.file("pages"), size: 1 << 16, options: .init(tracking: .pages, threads: .many))
    } throws: { error in
      guard case SnapshotError.invalidOptions(let reason) = error else { return false }
      return reason.contains("line tracking")
    }
    let undo = try Region.create(at: directory.file("undo"), size: 1 << 16, options: .init(journal: .undo))
    try undo.close()
    #expect(throws: SnapshotError.self) { try Region.open(at: directory.file("undo"), threads: .many) }
    // The rejected opens left nothing locked.
    try Region.open(at: directory.file("undo")).close()
  }
}


/// The crash simulator on the threaded workload, here in a debug build, where a store racing with a
/// commit traps.
@Suite struct ThreadedCrashSimulationTests {
  @Test(arguments: [Workload.Configuration(.persistentMemory, .redo), Workload.Configuration(.file, .redo)])
  func everyCrashImageRecoversToWholeChanges(configuration: Workload.Configuration) throws {
    let directory = TestDirectory(onDisk: configuration.backing == .file)
    let scenario = try Workload.threadedTransfers(commits: 4).record(configuration, seed: 5, path: "\(directory.path)/region")
    #expect(scenario.failures.isEmpty, "\(scenario.failures)")
    #expect(scenario.msyncs >= 6)
    let report = CrashSimulator(scenario: scenario, options: .init(), scratchDirectory: directory.path).run()
    #expect(report.failures.isEmpty, "\(report.failures.prefix(3))")
    #expect(report.imagesDistinct > 100)
  }
}
