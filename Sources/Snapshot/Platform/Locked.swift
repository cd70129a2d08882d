#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind a mutex, for the rare paths of a shared region (registering a thread, msync) and
/// for the threads of the checking workloads; the store path never takes it.
///
/// A pthread mutex rather than `Synchronization.Mutex`: the tests of shared regions run under the
/// thread sanitizer, which understands pthread mutexes but not `Mutex`'s futex, and would report
/// the data a `Mutex` protects as racing.
package final class Locked<Value>: @unchecked Sendable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private var value: Value

  package init(_ value: Value) {
    self.value = value
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  package func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value)
  }
}

extension Locked where Value == Void {
  /// A lock that only orders what runs under it.
  package convenience init() { self.init(()) }

  /// Runs `body` under the lock if no other thread holds it; nil, without waiting, if one does.
  package func withLockIfAvailable<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R? {
    guard pthread_mutex_trylock(mutex) == 0 else { return nil }
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }
}
