#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSnapshotPlatform

/// How a thread of a shared region waits for another's short step (a change ending, a commit
/// completing): it spins `spins` times, then yields the processor at each turn, so that a waiter
/// never keeps the thread it waits for off a core for long.
struct Backoff {
  private let spins: Int
  private var turns = 0

  init(spins: Int) {
    self.spins = spins
  }

  /// One turn of waiting.
  mutating func pause() {
    if turns < spins {
      snapshot_spin_pause()
      turns += 1
    } else {
      sched_yield()
    }
  }
}
