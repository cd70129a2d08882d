import Snapshot
import SystemPackage

extension Workload {
  /// System calls of a file region that fail: each round makes every call of ``FailingCall`` fail
  /// once, in turn, after a few commits. msync, checkpoint, discard or open must then throw; a handle
  /// that cannot know what reached the disk (a write or sync failed) must refuse every later commit;
  /// one that can (nothing was written: out of space, a failed read) must go on. A region reopened
  /// after a failure must hold the last acknowledged commit or the one whose msync failed. The region
  /// grows, a page at a time, in the calls of a grow.
  package static func failingSystemCalls(rounds: Int) -> Workload {
    var workload = Workload(name: "failing writes, syncs and reads", regionSize: 8192) { recorder, generator in
      func change() {
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
          recorder.region.store(UInt64(recorder.operations) << 8 | 0x5A, at: 8 * Int.random(in: 0..<1024, using: &generator))
          recorder.count()
        }
      }
      for _ in 0..<rounds {
        for failing in FailingCall.allCases {
          for _ in 0..<Int.random(in: 1...3, using: &generator) {
            change()
            try recorder.msync()
          }
          change()
          try failing.exercise(recorder)
        }
      }
    }
    workload.needsFileMedium = true
    workload.grows = true
    // A log of one page, so that a commit of many lines makes it grow.
    workload.logSize = 4096
    return workload
  }
}

/// A system call made to fail, and what must follow.
private enum FailingCall: CaseIterable {
  /// The batch's write runs out of space: nothing was committed, and msync can be retried.
  case batchWriteOutOfSpace
  /// A commit larger than the log cannot grow it for lack of space: nothing was written, and msync
  /// can be retried.
  case logGrowthOutOfSpace
  /// The batch's write or its fdatasync fails: the commit may or may not have reached the disk.
  case batchWrite, batchSync
  /// A checkpoint's write or sync of the data file, or its reset of the log, fails.
  case homeWrite, homeSync, logResetWrite, logResetSync
  /// A checkpoint cannot read the log back: nothing was written, and it can be retried.
  case checkpointRead
  /// discard cannot read the log, or the data file for a line the log does not hold: the working
  /// copy is not yet restored, and discard can be retried.
  case discardRead, discardDataRead
  /// Opening cannot learn the log's size, read its header or its batches, or write what it recovers
  /// home.
  case openSize, openRead, openBatchesRead, openHomeWrite, openHomeSync
  /// A grow cannot write or sync its size record, or sync the data file's new length.
  case growRecordWrite, growRecordSync, growLengthSync
  /// Opening cannot read the size records.
  case openSizeRecordsRead
  /// Opening finds the record of a grow whose batch was never written, and cannot cut the data file
  /// back, sync the cut, or clear the record.
  case openAbandonedSizeCut, openAbandonedSizeCutSync, openAbandonedSizeClear

  var call: FileCallFailure.Call {
    switch self {
    case .batchWriteOutOfSpace, .batchWrite, .logResetWrite: return .write(.log)
    case .batchSync, .logResetSync: return .synchronize(.log)
    case .homeWrite, .openHomeWrite, .growRecordWrite, .openAbandonedSizeClear: return .write(.data)
    case .homeSync, .openHomeSync, .growRecordSync, .growLengthSync, .openAbandonedSizeCutSync: return .synchronize(.data)
    case .checkpointRead, .discardRead, .openRead, .openBatchesRead: return .read(.log)
    case .discardDataRead, .openSizeRecordsRead: return .read(.data)
    case .openSize: return .size(.log)
    case .logGrowthOutOfSpace: return .resize(.log)
    case .openAbandonedSizeCut: return .resize(.data)
    }
  }

  var errno: Errno { self == .batchWriteOutOfSpace || self == .logGrowthOutOfSpace ? .noSpace : .ioError }

  /// Calls of the same kind that succeed first: opening reads the log's header before its batches; a
  /// grow syncs its record before the data file's new length.
  var skipped: Int { self == .openBatchesRead || self == .growLengthSync ? 1 : 0 }

  /// Makes the call fail in what reaches it, checks the outcome, and leaves an open region that holds
  /// a committed state (the changes in its working copy are committed or discarded).
  func exercise(_ recorder: ScenarioRecorder) throws {
    let failures = recorder.fileFailures
    switch self {
    case .batchWriteOutOfSpace:
      failures.arm(call, with: errno)
      expectRefusal(recorder, "msync") { try recorder.msync() }
      try recorder.msync()
    case .logGrowthOutOfSpace:
      recorder.region.fill(UInt8(truncatingIfNeeded: recorder.operations), at: 1024, count: 100 * 64)
      recorder.count()
      failures.arm(call, with: errno)
      expectRefusal(recorder, "msync") { try recorder.msync() }
      try recorder.msync()
    case .batchWrite, .batchSync:
      failures.arm(call, with: errno)
      expectRefusal(recorder, "msync") { try recorder.msync() }
      expectPoisoned(recorder)
      try recorder.reopenAfterFailure()
    case .homeWrite, .homeSync, .logResetWrite, .logResetSync:
      try recorder.msync()
      failures.arm(call, with: errno)
      expectRefusal(recorder, "checkpoint") { try recorder.region.checkpoint() }
      expectPoisoned(recorder)
      try recorder.reopenAfterFailure()
    case .checkpointRead:
      try recorder.msync()
      failures.arm(call, with: errno)
      expectRefusal(recorder, "checkpoint") { try recorder.region.checkpoint() }
      try recorder.region.checkpoint()
    case .discardRead:
      failures.arm(call, with: errno)
      expectRefusal(recorder, "discard") { try recorder.region.discard() }
      try recorder.discard()
    case .discardDataRead:
      // After a checkpoint the log holds no line, so discard reads the changed line from the data file.
      try recorder.msync()
      try recorder.region.checkpoint()
      recorder.region.store(UInt64(0xD15C_A4D), at: 8 * 17)
      failures.arm(call, with: errno)
      expectRefusal(recorder, "discard") { try recorder.region.discard() }
      try recorder.discard()
    case .openSize, .openRead, .openBatchesRead, .openHomeWrite, .openHomeSync, .openSizeRecordsRead:
      try recorder.msync()
      try recorder.reopenAfterFailure(failingFirst: (call, errno, skipped))
    case .growRecordWrite, .growRecordSync, .growLengthSync:
      // After a checkpoint the grow's msync writes nothing to the data file but the grow's own calls.
      try recorder.msync()
      try recorder.region.checkpoint()
      try recorder.region.grow(to: recorder.region.size + 4096)
      failures.arm(call, with: errno, after: skipped)
      expectRefusal(recorder, "msync of a grow") { try recorder.msync() }
      expectPoisoned(recorder)
      try recorder.reopenAfterFailure()
    case .openAbandonedSizeCut, .openAbandonedSizeCutSync, .openAbandonedSizeClear:
      // The grow's record is durable and its batch is not: opening must cut the file back and clear
      // the record before anything else writes the data file (the checkpoint left no batch to replay).
      try recorder.msync()
      try recorder.region.checkpoint()
      try recorder.region.grow(to: recorder.region.size + 4096)
      failures.arm(.write(.log), with: .ioError)
      do {
        try recorder.msync()
        recorder.fail("msync of a grow whose batch could not be written did not throw")
      } catch {
        if !failures.disarm() { recorder.fail("msync of a grow wrote no batch") }
      }
      try recorder.reopenAfterFailure(failingFirst: (call, errno, skipped))
    }
  }

  private func expectRefusal(_ recorder: ScenarioRecorder, _ operation: String, _ body: () throws -> Void) {
    do {
      try body()
      recorder.fail("\(operation) with \(call) failing (\(errno)) did not throw")
    } catch {
      if !recorder.fileFailures.disarm() { recorder.fail("\(operation) made no \(call)") }
    }
  }

  /// After a write or sync failed, a commit must throw before it writes anything.
  private func expectPoisoned(_ recorder: ScenarioRecorder) {
    recorder.region.store(UInt64(0xDEAD), at: 0)
    if (try? recorder.region.msync()) != nil {
      recorder.fail("msync after \(call) failed (\(errno)) succeeded on the same handle")
    }
  }
}
