import Dispatch
import Foundation
import Snapshot

/// Runs `body(0..<count)` on `count` threads of their own and waits for all of them. The threads are
/// released together once all have started, so that their work overlaps. Unlike
/// `DispatchQueue.concurrentPerform`, every index runs even with fewer processors, so indices may wait
/// for each other.
package func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
  let started = DispatchSemaphore(value: 0)
  let release = DispatchGroup()
  release.enter()
  let finished = DispatchGroup()
  for index in 0..<count {
    finished.enter()
    Thread {
      started.signal()
      release.wait()
      body(index)
      finished.leave()
    }.start()
  }
  for _ in 0..<count { started.wait() }
  release.leave()
  finished.wait()
}

/// Money moved between accounts by several writer threads sharing a region, for the tests and the
/// crash simulator. Writer `w` owns every account `i` with `i % writers == w`, so the writers' accounts
/// are interleaved in the same lines; the writers' change counters share one line; each writer has a
/// 256-byte record filled with its counter's low byte. A commit that split a change would break a
/// writer's total or leave its record disagreeing with its counter.
package struct TransferLayout: Sendable {
  package let writers: Int
  package let accountsPerWriter = 16
  package let total: UInt64 = 1_000_000
  private var counters: Int { 2048 }

  package init(writers: Int) {
    precondition(writers * 16 * 8 <= 2048, "too many writers for the layout")
    self.writers = writers
  }

  /// The region size the layout needs.
  package var size: Int { 4096 + writers * 256 }

  private func account(_ writer: Int, _ index: Int) -> Int { (index * writers + writer) * 8 }
  /// Writer 0's record straddles lines 63 and 64, so a fill of it spans two words of the dirty-line
  /// bitmap.
  private func record(_ writer: Int) -> Int { 4096 - 128 + writer * 256 }

  package func fund(_ region: Region) {
    for writer in 0..<writers {
      for index in 0..<accountsPerWriter {
        region.store(total / UInt64(accountsPerWriter), at: account(writer, index))
      }
    }
  }

  /// One change of `writer`: a random amount between two of its accounts, its record rewritten and
  /// its counter set to `change`. The caller wraps it in `Region.change`.
  package func transfer(in region: Region, writer: Int, change: Int, using generator: inout some RandomNumberGenerator) {
    let from = account(writer, Int.random(in: 0..<accountsPerWriter, using: &generator))
    let to = account(writer, Int.random(in: 0..<accountsPerWriter, using: &generator))
    let balance = region.load(UInt64.self, at: from)
    let amount = UInt64.random(in: 0...balance, using: &generator)
    region.store(balance - amount, at: from)
    region.store(region.load(UInt64.self, at: to) + amount, at: to)
    region.fill(UInt8(truncatingIfNeeded: change), at: record(writer), count: 256)
    region.store(UInt64(change), at: counters + writer * 8)
  }

  /// One change of `writer` that moves one unit between its first two accounts, calling `midway`
  /// between the debit and the credit; the caller wraps it in `Region.change`.
  package func transferOne(in region: Region, writer: Int, change: Int, midway: () -> Void) {
    let from = account(writer, change % 2), to = account(writer, 1 - change % 2)
    region.store(region.load(UInt64.self, at: from) - 1, at: from)
    midway()
    region.store(region.load(UInt64.self, at: to) + 1, at: to)
    region.fill(UInt8(truncatingIfNeeded: change), at: record(writer), count: 256)
    region.store(UInt64(change), at: counters + writer * 8)
  }

  /// Each writer's change count in `region`.
  package func changes(in region: Region) -> [Int] {
    (0..<writers).map { Int(region.load(UInt64.self, at: counters + $0 * 8)) }
  }

  /// What is wrong with `region`'s accounts and records; nil when nothing is.
  package func violation(in region: Region) -> String? {
    for writer in 0..<writers {
      let sum = (0..<accountsPerWriter).reduce(UInt64(0)) { $0 &+ region.load(UInt64.self, at: account(writer, $1)) }
      if sum != total { return "writer \(writer)'s accounts hold \(sum), not \(total)" }
      let change = UInt8(truncatingIfNeeded: region.load(UInt64.self, at: counters + writer * 8))
      for offset in 0..<256 where region.load(UInt8.self, at: record(writer) + offset) != change {
        return "writer \(writer)'s record is not from its change \(change)"
      }
    }
    return nil
  }
}
