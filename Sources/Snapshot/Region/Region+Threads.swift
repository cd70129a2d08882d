import CSnapshotPlatform
import SystemPackage

extension Region {
  /// Which threads use a region handle.
  public enum Threads: Sendable, CaseIterable, CustomStringConvertible {
    /// One thread at a time: the handle may pass from thread to thread (a task resuming on another
    /// thread, a lock, a queue), with the synchronization that hands it over, at any point; changes
    /// not committed yet go with it. The fastest store path and msync. Using it from two threads at
    /// once is a data race (the thread sanitizer reports it); debug builds trap on a store made while
    /// another thread's msync or discard takes the changed lines.
    case one
    /// Many threads at once, each storing without a lock (a bit test per store, an atomic operation
    /// on the first store to a line), and msync from any thread committing every thread's changes as
    /// one commit. Changes that must not be split across commits go inside ``Region/change(_:)``.
    /// Needs the redo journal and line tracking.
    case many

    public var description: String { self == .one ? "one" : "many" }

    func check(journal: Journal, tracking: Tracking) throws(SnapshotError) {
      guard self == .many else { return }
      guard journal == .redo else {
        throw .invalidOptions(
          reason: "threads: .many needs the redo journal: the undo journal logs a line's old contents before its first "
            + "store, which another thread's store to the same line could overtake; create the region with journal: .redo")
      }
      guard tracking == .lines else {
        throw .invalidOptions(
          reason: "threads: .many needs line tracking: page tracking's fault handler records pages for one thread; "
            + "use tracking: .lines")
      }
    }
  }

  /// Whether this handle is used by one thread at a time or by many.
  public var threads: Threads { _changes.shared == nil ? .one : .many }

  /// Whether an msync or discard of a shared region is waiting for changes in progress to end. For
  /// the crash simulator's workloads that schedule a commit against a change.
  package var isWaitingForChanges: Bool {
    snapshot_load_relaxed(_changes.commitWord) == ConcurrentLineTracker.waitingForChanges
  }

  /// Runs `body`, whose stores form one change: an msync, from any thread, commits all of it or none
  /// of it.
  ///
  /// In a region opened with ``Threads/many``, msync waits until every change in progress has ended and
  /// holds back changes that start while it takes the changed lines, so a commit never holds half a
  /// change. Put each update that must stay whole (an insertion into a data structure, a transfer
  /// between two records) in a change, and call msync outside of it (or use ``commit(_:)``, which does
  /// both and shares its commit with other threads'). Changes on different threads
  /// run in parallel; nothing here serializes them, so two changes to the same bytes need the
  /// caller's own synchronization, as for any memory. Two threads may store to the same 64-byte line
  /// between msyncs; each line is committed as it is when msync takes it.
  ///
  /// A store outside a change that races with an msync on another thread is a bug: the commit may
  /// hold part of it, and a multi-line store may be split between two commits. Debug builds trap on a
  /// store made while msync takes the lines. Nothing already committed is ever lost.
  ///
  /// With ``Threads/one``, the region is used by one thread at a time, so `body` simply runs.
  ///
  /// Changes nest. msync or discard inside a change traps: the commit would wait for itself.
  public func change<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    guard let shared = _changes.shared else { return try body() }
    let log = shared.enterChange()
    defer { log.leave() }
    return try body()
  }

  /// Runs `body` as one change and makes it durable: ``change(_:)`` followed by ``msync()``, in one
  /// call.
  ///
  /// In a region shared by threads (``Threads/many``) this is how threads commit together: the change
  /// is counted for a commit before any other thread can see it end, so a commit that another thread
  /// starts meanwhile (it waits for this change) also makes this one durable, and this call returns
  /// once that commit has, without committing again. Two threads that each change and commit in a
  /// loop share their commits.
  ///
  /// - Returns: What `body` returns.
  public func commit<R>(_ body: () -> R) throws(SnapshotError) -> R {
    try commit(observing: nil, body).result
  }

  /// ``commit(_:)`` that also returns the epoch ``msync()`` would, and shows `observe` what
  /// ``msync(observing:)`` shows it if this call commits. For the crash simulator.
  package func commit<R>(
    observing observe: ((UnsafeRawBufferPointer, Bool) -> Void)?, _ body: () -> R
  ) throws(SnapshotError) -> (result: R, epoch: UInt64) {
    guard let shared = _changes.shared else {
      let result = body()
      return (result, try msync(observing: observe))
    }
    let log = shared.enterChange()
    precondition(log.depth == 1, "Region.commit inside Region.change: the commit would wait for its own change to end")
    let result = body()
    // The ticket before the change ends: a commit waiting for this change numbers itself after it.
    let ticket = shared.ticket()
    log.leave()
    return (result, try msyncShared(shared, ticket: ticket, observing: observe))
  }

  /// msync of a shared region once its caller's stores are done, `ticket` taken after them: returns
  /// when a commit that took lines after the ticket is durable, committing when none has.
  func msyncShared(
    _ shared: ConcurrentLineTracker, ticket: UInt64, observing observe: ((UnsafeRawBufferPointer, Bool) -> Void)?
  ) throws(SnapshotError) -> UInt64 {
    // Spinning, not sleeping on the lock: a commit takes a microsecond or two, and waking a thread
    // that slept takes longer than that, long enough for the committer to start its next change,
    // which the sleeper's commit would then have to wait for. Spinning only briefly, then yielding at
    // each turn: with as many threads as cores, the core a waiter holds is the one the commit it
    // waits for, or the checkpoint's writes ahead, could run on.
    var backoff = Backoff(spins: 32)
    while true {
      if let epoch = shared.epoch(covering: ticket) { return epoch }
      let committed = try commitLock.withLockIfAvailable { () throws(SnapshotError) -> UInt64 in
        if let epoch = shared.epoch(covering: ticket) { return epoch }
        guard !isClosed else { throw .closed(path: path.string) }
        return try commitShared(shared, observing: observe)
      }
      if let committed { return committed }
      backoff.pause()
    }
  }

  /// Runs `body` under the commit lock when threads share the region.
  func serialized<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    _changes.shared == nil ? try body() : try commitLock.withLock { (_: inout Void) throws(E) -> R in try body() }
  }

  /// msync of a shared region; the caller holds the commit lock.
  func commitShared(
    _ shared: ConcurrentLineTracker, observing observe: ((UnsafeRawBufferPointer, Bool) -> Void)?
  ) throws(SnapshotError) -> UInt64 {
    let (number, lines) = shared.beginCommit()
    observe?(UnsafeRawBufferPointer(start: _working, count: size), lines.count > 0)
    guard lines.count > 0 else {
      shared.endCommit()
      shared.completeCommit(number, epoch: journal.epoch)
      return journal.epoch
    }
    // Changes resume once the lines are read (on a file, while the log is synced): their bits are
    // cleared first, so that a store from then on marks its line for the next commit.
    var changesResumed = false
    do {
      try journal.commit(lines) {
        shared.clearBits(of: lines)
        shared.endCommit()
        changesResumed = true
      }
    } catch {
      if changesResumed {
        shared.remark(lines)
      } else {
        shared.restoreLines(lines)
        shared.endCommit()
      }
      throw error
    }
    shared.completeCommit(number, epoch: journal.epoch)
    return journal.epoch
  }

  /// discard of a shared region; the caller holds the commit lock.
  func discardShared(_ shared: ConcurrentLineTracker) throws(SnapshotError) {
    let lines = shared.beginCommit().lines
    defer { shared.endCommit() }
    do {
      try restoreCommitted(lines)
    } catch {
      shared.restoreLines(lines)
      throw error
    }
    shared.clearBits(of: lines)
    try discardGrowth()
  }

}

/// A region handle may be shared between threads: with ``Region/Threads/many`` used by all of them at
/// once, with ``Region/Threads/one`` by one at a time.
extension Region: @unchecked Sendable {}
