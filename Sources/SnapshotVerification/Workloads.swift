import Foundation
import Snapshot
import SnapshotKV

/// A workload for the crash simulator: what it does to a region, run through a recorder.
package struct Workload: Sendable {
  package var name: String
  /// The region size it runs on; small, so that every crash point can be explored.
  package var regionSize: Int
  /// The redo log's resting size, when the workload needs one smaller than a commit of every line.
  package var logSize: Int?
  /// How the region is tracked while the workload runs.
  package var tracking: Region.Tracking = .lines
  /// Whether threads share the region while the workload runs.
  package var threads: Region.Threads = .one
  /// Whether it needs a region on a file (it makes the file's system calls fail).
  package var needsFileMedium = false
  /// Whether it grows the region, which needs the redo journal.
  package var grows = false
  /// The one configuration it runs on, when the code it aims at runs in no other.
  package var only: Configuration?
  /// The largest size the region may grow to; nil for the default.
  package var maximumSize: Int?
  /// A check every recovered region must pass besides holding a committed state; nil when it passes.
  package var invariant: (@Sendable (Region) -> String?)?
  package var body: @Sendable (ScenarioRecorder, inout SeededGenerator) throws -> Void

  /// Runs the workload on a fresh region at `path`.
  package func record(_ configuration: Configuration, faults: Fault = [], seed: UInt64, path: String) throws -> Scenario {
    let recorder = try ScenarioRecorder(
      path: .init(path), size: regionSize, logSize: configuration.journal == .redo ? logSize : nil,
      backing: configuration.backing, journal: configuration.journal,
      emulatingCXL: configuration.emulatesCXL, tracking: tracking, threads: threads, maximumSize: maximumSize, faults: faults)
    var generator = SeededGenerator(seed: seed)
    try body(recorder, &generator)
    var scenario = try recorder.finish(workload: name)
    scenario.invariant = invariant
    return scenario
  }

  /// A medium and a journal to run workloads on.
  package struct Configuration: Sendable, Hashable, CustomStringConvertible {
    package var backing: Region.Backing
    package var journal: Region.Journal
    /// Persistent memory behind a CXL device model: the same commit protocol, with checkpoints that
    /// write home in address order.
    package var emulatesCXL: Bool

    package init(_ backing: Region.Backing, _ journal: Region.Journal, emulatingCXL: Bool = false) {
      self.backing = backing
      self.journal = journal
      self.emulatesCXL = emulatingCXL
    }

    /// Every combination a region can be created with.
    package static let all = [Configuration(.persistentMemory, .undo), Configuration(.persistentMemory, .redo), Configuration(.file, .redo)]

    /// Every combination, and both journals on emulated CXL memory: what the crash simulator runs.
    package static let simulated = all + [
      Configuration(.persistentMemory, .undo, emulatingCXL: true), Configuration(.persistentMemory, .redo, emulatingCXL: true),
    ]

    package var description: String { "\(emulatesCXL ? "cxl" : "\(backing)") \(journal)" }
  }

  /// Whether the workload can run with `configuration`: a region shared by threads, or one that grows,
  /// needs the redo journal.
  package func runs(on configuration: Configuration) -> Bool {
    (threads == .one && !grows || configuration.journal == .redo) && (!needsFileMedium || configuration.backing == .file)
      && (only == nil || only == configuration)
  }

  /// Every workload, at a scale that `scale` multiplies.
  package static func all(scale: Int = 1) -> [Workload] {
    [randomStores(rounds: 12 * scale), bulkCopyAndFill(rounds: 5 * scale), logWrap(commits: 36 * scale),
     processCrashes(rounds: 3 * scale), libraryWrites(rounds: 6 * scale), bankTransfers(rounds: 8 * scale),
     logEnds(fills: 3 * scale), checkpointRepeats(fills: 4 * scale), logGrowth(rounds: 4 * scale), regionGrowth(rounds: 6 * scale), failingSystemCalls(rounds: 2 * scale), scheduledTransfers(commits: 6 * scale), scheduledSharedCommits(commits: 4 * scale),
     threadedTransfers(commits: 8 * scale),
     sqlTransfers(rounds: 6 * scale)]
  }

  /// Three threads move money between their accounts (interleaved in the same lines) inside
  /// `Region.change`, without pause, while a fourth calls msync `commits` times, each once every
  /// writer has moved on since the last; the writers call msync too, after their 20th and 200th change,
  /// and commit their 10th, 30th, 100th and 300th change with `Region.commit`, which shares commits
  /// with the other threads'.
  /// Every commit thus meets changes in progress on other threads. Every recovered region must hold
  /// whole changes only: each writer's total intact, each record matching its writer's counter.
  package static func threadedTransfers(commits: Int) -> Workload {
    let layout = TransferLayout(writers: 3)
    var workload = Workload(name: "threads: transfers, msync from every thread", regionSize: layout.size) { recorder, generator in
      layout.fund(recorder.region)
      try recorder.msync()
      let seeds = (0..<layout.writers).map { _ in generator.next() }
      let stop = Locked(false)
      onThreads(layout.writers + 1) { thread in
        guard thread < layout.writers else {
          for _ in 0..<commits {
            let operations = recorder.operations
            while recorder.operations < operations + 3 * layout.writers { sched_yield() }
            do { try recorder.msync() } catch { recorder.fail("msync on the committing thread: \(error)") }
          }
          stop.withLock { $0 = true }
          return
        }
        var generator = SeededGenerator(seed: seeds[thread])
        var change = 0
        while !stop.withLock({ $0 }) {
          change += 1
          guard ![10, 30, 100, 300].contains(change) else {
            do {
              try recorder.commit { layout.transfer(in: recorder.region, writer: thread, change: change, using: &generator) }
            } catch {
              recorder.fail("commit on writer \(thread)'s thread: \(error)")
            }
            recorder.count()
            continue
          }
          recorder.region.change { layout.transfer(in: recorder.region, writer: thread, change: change, using: &generator) }
          recorder.count()
          guard change == 20 || change == 200 else { continue }
          do { try recorder.msync() } catch { recorder.fail("msync on writer \(thread)'s thread: \(error)") }
        }
      }
      try recorder.msync()
    }
    workload.threads = .many
    workload.invariant = { $0.epoch == 0 ? nil : layout.violation(in: $0) }  // epoch 0: not funded yet
    return workload
  }

  /// A writer and a committer in a schedule the workload controls, so that every commit meets a change
  /// half done, whatever the machine's load: inside `Region.change` the writer debits one account,
  /// lets the other thread call msync, and credits the other account only once that msync waits for
  /// the change to end (or, if the commit does not hold changes back, has returned). Every recovered
  /// region must hold whole changes only.
  package static func scheduledTransfers(commits: Int) -> Workload {
    scheduledAgainstMsync(name: "threads: a commit scheduled inside a change", commits: commits) { recorder, body in
      recorder.region.change(body)
    }
  }

  /// The same schedule with the change made by `Region.commit`: the msync's commit takes the change,
  /// so the writer's call must not commit again but return that commit's epoch once it is durable.
  package static func scheduledSharedCommits(commits: Int) -> Workload {
    scheduledAgainstMsync(name: "threads: a commit shared with another thread's msync", commits: commits) { recorder, body in
      try recorder.commit(body)
    }
  }

  /// `commits` times: the writer runs `change` (a change, or a change and its commit) around a
  /// transfer that, half done, lets the other thread call msync and waits for that msync to wait for
  /// it (or to have returned).
  private static func scheduledAgainstMsync(
    name: String, commits: Int, change: @escaping @Sendable (ScenarioRecorder, _ body: () -> Void) throws -> Void
  ) -> Workload {
    let layout = TransferLayout(writers: 1)
    var workload = Workload(name: name, regionSize: layout.size) { recorder, _ in
      layout.fund(recorder.region)
      try recorder.msync()
      for count in 1...commits {
        let halfDone = DispatchSemaphore(value: 0)
        let returned = Locked(false)
        onThreads(2) { thread in
          guard thread == 0 else {
            halfDone.wait()
            do { try recorder.msync() } catch { recorder.fail("msync against a change: \(error)") }
            returned.withLock { $0 = true }
            return
          }
          do {
            try change(recorder) {
              layout.transferOne(in: recorder.region, writer: 0, change: count) {
                halfDone.signal()
                while !recorder.region.isWaitingForChanges && !returned.withLock({ $0 }) { sched_yield() }
              }
            }
          } catch {
            recorder.fail("the change against an msync: \(error)")
          }
          recorder.count()
        }
      }
      try recorder.msync()
    }
    workload.threads = .many
    workload.invariant = { $0.epoch == 0 ? nil : layout.violation(in: $0) }  // epoch 0: not funded yet
    return workload
  }

  /// Stores of random sizes (1 to 80 bytes) at random offsets and alignments, random msync and discard.
  package static func randomStores(rounds: Int) -> Workload {
    Workload(name: "random stores, msync, discard", regionSize: 16 << 10) { recorder, generator in
      let region = recorder.region
      for round in 0..<rounds {
        for _ in 0..<Int.random(in: 1...6, using: &generator) {
          let count = Int.random(in: 1...80, using: &generator)
          let offset = Int.random(in: 0...(region.size - count), using: &generator)
          let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
          bytes.withUnsafeBytes { region.copy(from: $0, to: offset) }
          recorder.count()
        }
        region.store(UInt64(round), at: 8 * Int.random(in: 0..<64, using: &generator))
        recorder.count()
        if Int.random(in: 0..<5, using: &generator) == 0 {
          try recorder.discard()
        } else {
          try recorder.msync()
        }
      }
    }
  }

  /// Fills and overlapping in-region copies spanning many lines.
  package static func bulkCopyAndFill(rounds: Int) -> Workload {
    Workload(name: "bulk copy and fill", regionSize: 16 << 10) { recorder, generator in
      let region = recorder.region
      for round in 0..<rounds {
        let count = Int.random(in: 100...3000, using: &generator)
        region.fill(UInt8(truncatingIfNeeded: round + 1), at: Int.random(in: 0...(region.size - count), using: &generator), count: count)
        let length = Int.random(in: 64...2000, using: &generator)
        region.copy(
          from: Int.random(in: 0...(region.size - length), using: &generator),
          to: Int.random(in: 0...(region.size - length), using: &generator), count: length)
        recorder.count()
        recorder.count()
        try recorder.msync()
      }
    }
  }

  /// Many small commits into a 4 KiB region: the log fills and is checkpointed again and again.
  package static func logWrap(commits: Int) -> Workload {
    Workload(name: "log wrap and checkpoints", regionSize: 4096) { recorder, generator in
      let region = recorder.region
      for commit in 0..<commits {
        for _ in 0..<Int.random(in: 1...12, using: &generator) {
          region.store(UInt32(commit), at: 4 * Int.random(in: 0..<1024, using: &generator))
          recorder.count()
        }
        try recorder.msync()
      }
    }
  }

  /// Checkpoints of lines never repeated, then of lines repeated at every commit, on a log of 64
  /// lines that 16 commits of three lines fill: the first two checkpoints find no line logged twice,
  /// so the third writes every logged run home oldest batch first (`CheckpointDeduplication`), over
  /// batches that all change one hot line; the one after it (at close, with `fills` 4) looks for
  /// repeats again and finds them. A checkpoint that took those runs in another order would leave an
  /// older version of the hot line home, where no batch covers it once the checkpoint word is
  /// durable. Only the redo journal on persistent memory makes that choice (CXL memory always looks,
  /// since it writes home in address order; files always look), so the workload runs there alone.
  package static func checkpointRepeats(fills: Int) -> Workload {
    var workload = Workload(name: "checkpoints of lines never repeated, then repeated", regionSize: 16 << 10) { recorder, generator in
      let region = recorder.region
      let lineCount = region.size / 64
      var fresh = 0
      func change(_ line: Int) {
        region.store(UInt64.random(in: 0...UInt64.max, using: &generator), at: line * 64 + 8 * Int.random(in: 0..<8, using: &generator))
        recorder.count()
      }
      for fill in 0..<fills {
        let hot = Int.random(in: 0..<lineCount, using: &generator)
        for _ in 0..<16 {
          for _ in 0..<(fill < 2 ? 3 : 2) {
            fresh = (fresh + 1) % lineCount
            change(fresh == hot ? (fresh + 1) % lineCount : fresh)
          }
          if fill >= 2 { change(hot) }
          try recorder.msync()
        }
      }
    }
    workload.logSize = 4096
    workload.only = Configuration(.persistentMemory, .redo)
    return workload
  }

  /// Commits aimed at the shapes the log's bounds meet: with the redo journal, each fill of the log
  /// ends in a batch that ends exactly at the log's end (even fills) or one line short of it (odd
  /// fills, followed by a one-line commit, which needs two lines), and the next commit checkpoints,
  /// so one handle checkpoints `fills` times; every commit's runs cross 64-line words of the
  /// dirty-line and checkpoint bitmaps, and lines are stored in descending order within a commit too. Discards in between read lines back from the log. With
  /// the undo journal the same commits run without the aiming.
  package static func logEnds(fills: Int) -> Workload {
    Workload(name: "batches at the log's end, runs across bitmap words", regionSize: 16 << 10) { recorder, generator in
      let region = recorder.region
      let lineCount = region.size / 64
      /// Lines first...first+count-1 changed in descending order when `descending`, as one commit.
      func change(first: Int, count: Int, descending: Bool = false) {
        for line in descending ? Array((first..<first + count).reversed()) : Array(first..<first + count) {
          region.store(UInt64.random(in: 0...UInt64.max, using: &generator), at: line * 64 + 8 * Int.random(in: 0..<8, using: &generator))
          recorder.count()
        }
      }
      /// A run of `count` lines that crosses a 64-line word boundary (or the whole region).
      func crossingStart(_ count: Int) -> Int {
        let boundary = 64 * Int.random(in: 1..<lineCount / 64, using: &generator)
        return max(0, min(lineCount - count, boundary - count / 2 - 1))
      }
      for fill in 0..<fills {
        while true {
          // With up to four runs, a batch takes one head line and its lines: this many fill the log
          // exactly. They go in two runs, each across a word boundary and neither reaching into the
          // word after the other's: a checkpoint that leaves a bitmap word set shows.
          let exact = region.redoLogSpace.map { ($0.capacity - $0.used) / 64 - 1 }
          if let exact, (1...120).contains(exact - fill % 2) {
            let count = exact - fill % 2
            let low = count / 2
            if low > 0 { change(first: 64 - low / 2 - 1, count: low) }
            change(first: lineCount - 64 - (count - low) / 2 - 1, count: count - low)
            try recorder.msync()
            if fill % 2 == 1 {
              // One line left: a one-line batch needs two, so this commit checkpoints first.
              change(first: crossingStart(1), count: 1)
              try recorder.msync()
            }
            break
          }
          // Three runs across word boundaries, the last stored in descending order; at most 91 log
          // lines, so that the space left steps into the range above rather than over it.
          for run in 0..<3 {
            let count = Int.random(in: 2...30, using: &generator)
            change(first: crossingStart(count), count: count, descending: run == 2)
          }
          if Int.random(in: 0..<4, using: &generator) == 0 {
            try recorder.discard()
          } else {
            try recorder.msync()
          }
          if exact == nil { break }
        }
      }
      change(first: crossingStart(8), count: 8)
      try recorder.msync()
    }
  }

  /// Commits larger than the whole resting log (one page, for a region of 256 lines): the log grows for
  /// each, and shrinks back at the next checkpoint, which the small commits after it force. Between
  /// them, a commit of every line, a discard that reads lines back from a grown log, and a commit that
  /// fits after a grown one; once, no space to grow the log (the msync must throw and change nothing,
  /// and its retry succeed). With the undo journal (whose log takes every line) the same commits.
  package static func logGrowth(rounds: Int) -> Workload {
    var workload = Workload(name: "commits larger than the log", regionSize: 16 << 10) { recorder, generator in
      let region = recorder.region
      let lineCount = region.size / 64
      func change(lines: some Sequence<Int>) {
        for line in lines {
          region.store(UInt64.random(in: 0...UInt64.max, using: &generator), at: line * 64 + 8 * Int.random(in: 0..<8, using: &generator))
          recorder.count()
        }
      }
      for round in 0..<rounds {
        // More lines than the resting log holds: every line on the first round, then a random range.
        let count = round == 0 ? lineCount : Int.random(in: 70...lineCount, using: &generator)
        let first = Int.random(in: 0...lineCount - count, using: &generator)
        change(lines: first..<first + count)
        if round == 1, recorder.region.journalKind == .redo {
          // No space to grow the log: msync throws, having written nothing, and can be retried.
          try recorder.msyncOutOfSpace(failing: .resize(recorder.region.backing == .file ? .log : .data), "to grow the log")
        }
        try recorder.msync()
        change(lines: (0..<3).map { _ in Int.random(in: 0..<lineCount, using: &generator) })
        if round % 2 == 1 { try recorder.discard() } else { try recorder.msync() }
        for _ in 0..<2 {
          change(lines: (0..<Int.random(in: 10...40, using: &generator)).map { _ in Int.random(in: 0..<lineCount, using: &generator) })
          try recorder.msync()
        }
      }
    }
    workload.logSize = 4096
    return workload
  }

  /// C library routines writing a page-tracked region directly: memset, memmove and qsort.
  package static func libraryWrites(rounds: Int) -> Workload {
    var workload = Workload(name: "libc writes, page tracking", regionSize: 32 << 10) { recorder, generator in
      for round in 0..<rounds {
        let start = Int.random(in: 0..<(28 << 10), using: &generator)
        let count = Int.random(in: 1...3000, using: &generator)
        let source = Int.random(in: 0..<(28 << 10), using: &generator)
        let elements = Int.random(in: 2...512, using: &generator)
        let sorted = 4 * Int.random(in: 0..<((28 << 10) / 4 - elements), using: &generator)
        recorder.region.withUnsafeMutableBytes { bytes in
          _ = memset(bytes.baseAddress! + start, Int32(round + 1), count)
          _ = memmove(bytes.baseAddress! + start / 2, bytes.baseAddress! + source, 2000)
          qsort(bytes.baseAddress! + sorted, elements, 4) { a, b in
            let x = a!.load(as: UInt32.self)
            let y = b!.load(as: UInt32.self)
            return x < y ? -1 : x > y ? 1 : 0
          }
        }
        recorder.count()
        if round % 4 == 3 {
          try recorder.discard()
        } else {
          try recorder.msync()
        }
      }
    }
    workload.tracking = .pages
    return workload
  }


  /// Money moved between accounts of a key-value store, one transfer per commit, each recorded in a
  /// ledger entry of random length (an allocation) while the oldest entries are deleted (frees), with
  /// process crashes and reopens. Every committed state passes the store's invariants, leak check
  /// included; every recovered store must hold the same total, and the simulator checks that it holds
  /// exactly the last acknowledged transfer (or the one in flight), heap and all. With the redo journal
  /// the store grows its region once, committed, on its way to its maximum of twice the start.
  package static func bankTransfers(rounds: Int) -> Workload {
    var workload = Workload(name: "bank transfers, key-value store", regionSize: 64 << 10) { recorder, generator in
      try SnapshotKV.format(recorder.region, index: .ordered)
      var store = try SnapshotKV(region: recorder.region, autocommit: false)
      try Bank.open(store)
      try recorder.msync()
      var transfers = 0
      for round in 0..<rounds {
        for _ in 0..<3 {
          let (amount, from, to) = try Bank.transfer(store, using: &generator)
          // Every sixth memo is larger than the largest size class, two to three 4 KiB units: such
          // blocks come from the heap's large free list, first fit, split when too large, or from its top.
          let padding = transfers % 6 == 0 ? Int.random(in: 4_200...12_000, using: &generator) : Int.random(in: 0...300, using: &generator)
          let memo = "\(amount) from \(from) to \(to)" + String(repeating: ".", count: padding)
          try store.put(ledgerKey(transfers), Array(memo.utf8))
          if transfers >= 6 { try store.delete(ledgerKey(transfers - 6)) }
          transfers += 1
          recorder.count()
          try recorder.msync()
          try store.check()
        }
        if round % 3 == 1 {
          try fillUntilFull(&store, recorder)
        }
        if round % 3 == 2 {
          try recorder.crashAndReopen()
          store = try SnapshotKV(region: recorder.region, autocommit: false)
        }
      }
    }
    workload.maximumSize = 128 << 10
    workload.invariant = { region in
      guard let store = try? SnapshotKV(region: region, autocommit: false) else {
        return region.epoch == 0 ? nil : "the recovered region holds no key-value store"
      }
      return Bank.audit(store).map { "the recovered store: \($0)" }
    }
    return workload
  }

  /// Puts a value larger than the region's maximum, then large values until the heap is full: each
  /// must be refused as `regionFull`, not trap; discard then restores the last commit. A region that
  /// grows (redo journal) grows on the way, and the first fill that grew it is committed.
  private static func fillUntilFull(_ store: inout SnapshotKV, _ recorder: ScenarioRecorder) throws {
    func refusedAsFull(_ put: () throws(SnapshotError) -> Void) throws -> Bool {
      do throws(SnapshotError) {
        try put()
        return false
      } catch {
        guard case .regionFull = error else { throw error }
        return true
      }
    }
    let maximum = store.maximumSize
    if try !refusedAsFull({ () throws(SnapshotError) in try store.put(Array("too large".utf8), [UInt8](repeating: 7, count: maximum)) }) {
      recorder.fail("a value larger than the region's maximum was stored")
    }
    var filler = 0
    let size = recorder.region.size
    var committedGrowth = false
    while try !refusedAsFull({ () throws(SnapshotError) in try store.put(Array("filler-\(filler)".utf8), [UInt8](repeating: 9, count: 7_000)) }) {
      recorder.count()
      filler += 1
      if recorder.region.size > size && !committedGrowth {
        committedGrowth = true
        // The grow and the fillers so far, as one commit; the rest is discarded below.
        try store.check()
        try recorder.msync()
      }
      guard filler * 7_000 <= maximum else {
        recorder.fail("the heap took \(filler) values of 7,000 bytes in a region of at most \(maximum) bytes")
        break
      }
    }
    if recorder.region.journalKind == .redo && recorder.region.size != maximum {
      recorder.fail("a store that filled its region did not grow it to its maximum of \(maximum) bytes")
    }
    try recorder.discard()
    store = try SnapshotKV(region: recorder.region, autocommit: false)
    try store.check()
  }

  private static func ledgerKey(_ transfer: Int) -> [UInt8] { Array("ledger-\(transfer)".utf8) }

  /// Commits, then a process crash and a reopen (recovery), then more commits on the recovered region.
  package static func processCrashes(rounds: Int) -> Workload {
    Workload(name: "process crash and reopen", regionSize: 8192) { recorder, generator in
      for round in 0..<rounds {
        for _ in 0..<Int.random(in: 2...5, using: &generator) {
          for _ in 0..<Int.random(in: 1...4, using: &generator) {
            recorder.region.store(UInt64(round) << 32 | UInt64(recorder.operations), at: 8 * Int.random(in: 0..<1024, using: &generator))
            recorder.count()
          }
          try recorder.msync()
        }
        recorder.region.store(UInt64.max, at: 8 * Int.random(in: 0..<1024, using: &generator))  // never committed
        recorder.count()
        try recorder.crashAndReopen()
      }
    }
  }
}

extension ScenarioRecorder {
  /// msync with `call` out of space: it must make that call and throw `noSpace`, having committed
  /// nothing; the changes stay for the retry, which is the caller's.
  func msyncOutOfSpace(failing call: FileCallFailure.Call, _ what: String) throws {
    fileFailures.arm(call, with: .noSpace)
    do throws(SnapshotError) {
      try region.msync()
      fail("msync with no space \(what) did not throw")
    } catch {
      guard case .noSpace = error else { throw error }
      if !fileFailures.disarm() { fail("msync with no space \(what) made no \(call)") }
    }
  }
}
