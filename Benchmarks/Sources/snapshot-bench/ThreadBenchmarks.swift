import CSnapshotPlatform
import Foundation
import Snapshot
import Synchronization
import SystemPackage
import YCSB

/// Runs `body(thread)` on `count` threads released at once; returns the wall time from the release
/// to the last thread's end, in nanoseconds.
func timeOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> UInt64 {
  let ready = DispatchSemaphore(value: 0)
  let go = DispatchGroup()
  go.enter()
  let finished = DispatchGroup()
  for thread in 0..<count {
    finished.enter()
    Thread {
      ready.signal()
      go.wait()
      body(thread)
      finished.leave()
    }.start()
  }
  for _ in 0..<count { ready.wait() }
  let start = nanoseconds()
  go.leave()
  finished.wait()
  return nanoseconds() - start
}

/// Tracked stores from one and two threads into one region opened with `threads: .many`, each thread
/// to random 8-byte words of its own 256 MiB; against the same stores from one thread.
struct TrackedStoreScaling {
  let workspace: Workspace
  let repetitions: Int
  let sliceSize = 256 << 20
  let storesPerThread = 1 << 22

  func run(into report: inout BenchmarkReport) throws {
    printProgress("tracked stores from 1 and 2 threads: \(storesPerThread) random 8-byte stores per thread, each in its own 256 MiB")
    let region = try Region.create(
      at: FilePath(workspace.file("stores")), size: 2 * sliceSize, options: .init(backing: .persistentMemory, threads: .many))
    let offsets = (0..<2).map { thread in
      var generator = RandomSource(seed: UInt64(thread + 1))
      return (0..<storesPerThread).map { _ in thread * sliceSize + Int(generator.next() % UInt64(sliceSize / 8)) * 8 }
    }
    let plain = SharedAnonymousMapping(AnonymousMapping(size: 2 * sliceSize))
    defer { plain.memory.release() }
    var first: [[Double]] = [[], []], dirty: [[Double]] = [[], []], plainStores: [[Double]] = [[], []]
    for _ in 0..<repetitions {
      for threads in [1, 2] {
        let stores = Double(threads * storesPerThread)
        plainStores[threads - 1].append(stores / Double(timeOnThreads(threads) { storeAll(offsets[$0], into: plain.memory.base) }) * 1000)
        first[threads - 1].append(stores / Double(timeOnThreads(threads) { storeAll(offsets[$0], into: region) }) * 1000)
        dirty[threads - 1].append(stores / Double(timeOnThreads(threads) { storeAll(offsets[$0], into: region) }) * 1000)
        try region.discard()
      }
    }
    try region.close()
    let group = "tracked-store throughput (threads: .many)"
    report.add(group, "plain stores to ordinary memory, 1 thread (the same offsets)", median(plainStores[0]), unit: "M stores/s")
    report.add(group, "plain stores to ordinary memory, 2 threads", median(plainStores[1]), unit: "M stores/s",
               baseline: ("1 thread", median(plainStores[0])))
    report.add(group, "1 thread, first stores to fresh lines mixed with repeats", median(first[0]), unit: "M stores/s")
    report.add(group, "2 threads, first stores to fresh lines mixed with repeats", median(first[1]), unit: "M stores/s",
               baseline: ("1 thread", median(first[0])), minRatio: 1.8)
    report.add(group, "1 thread, stores to dirty lines", median(dirty[0]), unit: "M stores/s")
    report.add(group, "2 threads, stores to dirty lines", median(dirty[1]), unit: "M stores/s",
               baseline: ("1 thread", median(dirty[0])), minRatio: 1.8)
  }
}

/// The Snapshot paper's msync scaling benchmark: `rounds` rounds of three 512-byte copies to random
/// offsets of a 1 GiB file followed by an msync, split among 1, 2 and 4 threads. Snapshot (a region
/// opened with `threads: .many`, the copies and their msync in one `Region.commit`, which shares
/// commits between threads) against POSIX msync on a shared mapping of the same kind of file, in the
/// same run.
///
/// POSIX msync on tmpfs writes nothing back, so there each thread first does what msync does on a
/// DAX file system: it writes back every line of each page it dirtied, then fences, then
/// calls msync. On a file system with a page cache the kernel does the write-back.
struct MsyncScaling {
  let workspace: Workspace
  let backing: Region.Backing
  let rounds: Int
  let repetitions: Int
  let size = 1 << 30
  let threadCounts = [1, 2, 4]

  func run(into report: inout BenchmarkReport) throws {
    let where_ = backing == .persistentMemory ? "pm" : "file"
    let group = "msync scaling (\(where_), 1 GiB)"
    printProgress("msync scaling (\(where_)): \(rounds) rounds of 3 random 512-byte copies + msync into 1 GiB, on 1, 2, 4 threads")
    let region = try Region.create(at: FilePath(workspace.file("region")), size: size, options: .init(backing: backing, threads: .many))
    let posix = try SharedMapping(path: workspace.file("posix"), size: size, flushesPages: backing == .persistentMemory)
    defer { posix.close() }
    var oneThread = 0.0, oneThreadProcessor = 0.0
    for threads in threadCounts {
      var snapshot: [Double] = [], processor: [Double] = [], separate: [Double] = [], baseline: [Double] = []
      for repetition in 0..<repetitions {
        let times = try perRound(threads: threads, seed: repetition) { _, _, copy in
          try region.commit { copy { source, offset in region.copy(from: source, to: offset) } }
        }
        snapshot.append(times.wall)
        processor.append(times.processor)
        if threads > 1 {
          separate.append(try perRound(threads: threads, seed: repetition) { _, _, copy in
            region.change { copy { source, offset in region.copy(from: source, to: offset) } }
            try region.msync()
          }.wall)
        }
        baseline.append(try perRound(threads: threads, seed: repetition) { _, pages, copy in
          copy { source, offset in posix.copy(from: source, to: offset, dirtying: &pages) }
          try posix.sync(pages: &pages)
        }.wall)
      }
      report.add(
        group, "\(threads) thread\(threads == 1 ? "" : "s"): 3 random 512-byte copies + msync",
        median(snapshot), unit: "us/round", baseline: ("POSIX msync", median(baseline)), maxRatio: 1.0 / 3)
      // Scaling: rounds per second of all threads against one thread's. One thread's round already
      // keeps more than one core busy (the checkpoint's worker writes home on another): at that
      // processor time per round, the cores bound the scaling even with no wait between threads.
      if threads == 1 {
        oneThread = 1000 / median(snapshot)
        oneThreadProcessor = median(processor)
        report.add(
          group, "1 thread: processor time per round, every thread of the process",
          oneThreadProcessor, unit: "us/round", baseline: ("wall time", median(snapshot)))
        // On a file a round waits for the disk: there neither the processor time nor the medium's
        // work alone bounds anything.
        if backing == .persistentMemory {
          let cores = min(2, ProcessInfo.processInfo.activeProcessorCount)
          report.add(
            group, "2 threads: the most rounds per second \(cores) cores allow at 1 thread's processor time per round",
            Double(cores) * 1000 / oneThreadProcessor, unit: "k rounds/s", baseline: ("1 thread", oneThread))
          // The floor on two threads, each with a log and home copy of its own, shares nothing but the
          // machine: what the medium and the cores let two threads scale to here.
          let one = try floorPerRound(threads: 1), two = try floorPerRound(threads: 2)
          report.add(
            group, "1 thread: the medium's work alone of a redo round (PaperRoundFloor)",
            one, unit: "us/round", baseline: ("POSIX msync", median(baseline)))
          report.add(
            group, "2 threads: the medium's work alone, a PaperRoundFloor each: rounds per second",
            1000 / two, unit: "k rounds/s", baseline: ("1 thread", 1000 / one))
        }
      } else {
        report.add(
          group, "\(threads) threads: processor time per round, every thread of the process",
          median(processor), unit: "us/round", baseline: ("1 thread", oneThreadProcessor))
        report.add(
          group, "\(threads) threads: rounds per second", 1000 / median(snapshot), unit: "k rounds/s",
          baseline: ("1 thread", oneThread), minRatio: threads == 2 && backing == .persistentMemory ? 1.5 : nil)
        report.add(
          group, "\(threads) threads: the copies in a change, then msync",
          median(separate), unit: "us/round", baseline: ("POSIX msync", median(baseline)))
      }
    }
    try region.close()
  }

  /// The mean wall time of one round of `PaperRoundFloor`, in microseconds, over the repetitions'
  /// median, with the rounds split among `threads`, each with a floor (log and home copy) of its own.
  private func floorPerRound(threads: Int) throws -> Double {
    let floors = try (0..<threads).map { thread in
      try PaperRoundFloor(
        regionSize: size, homePath: workspace.file("floor-home\(thread)"), logPath: workspace.file("floor-log\(thread)"))
    }
    var times: [Double] = []
    for repetition in 0..<repetitions {
      times.append(try perRound(threads: threads, seed: repetition) { thread, _, copy in
        let floor = floors[thread]
        copy { source, offset in floor.copy(source, to: offset) }
        floor.msync()
      }.wall)
    }
    return median(times)
  }

  /// The mean wall time and processor time (every thread of the process) of one round, in
  /// microseconds, with the rounds split among `threads`; `round` gets the index of the thread it runs on.
  private func perRound(
    threads: Int, seed: Int,
    _ round: @escaping @Sendable (Int, inout [Int], (_ write: (UnsafeRawBufferPointer, Int) -> Void) -> Void) throws -> Void
  ) throws -> (wall: Double, processor: Double) {
    let source = [UInt8](repeating: 0xA5, count: 512)
    let perThread = rounds / threads
    let size = self.size
    let failure = FailureBox()
    let processorStart = processorNanoseconds()
    let elapsed = timeOnThreads(threads) { thread in
      var generator = RandomSource(seed: UInt64(seed * 64 + thread + 1))
      var pages: [Int] = []
      source.withUnsafeBytes { bytes in
        for _ in 0..<perThread {
          do {
            try round(thread, &pages) { write in
              for _ in 0..<3 { write(bytes, Int(generator.next() % UInt64(size - 512))) }
            }
          } catch {
            failure.record(error)
            return
          }
        }
      }
    }
    let processor = processorNanoseconds() - processorStart
    if let error = failure.error { throw error }
    let rounds = Double(perThread * threads) * 1000
    return (Double(elapsed) / rounds, Double(processor) / rounds)
  }
}

/// Ordinary memory handed to benchmark threads.
struct SharedAnonymousMapping: @unchecked Sendable {
  let memory: AnonymousMapping
  init(_ memory: AnonymousMapping) { self.memory = memory }
}

/// The first error a benchmark thread ran into.
final class FailureBox: Sendable {
  private let first = Mutex<(any Error & Sendable)?>(nil)
  var error: (any Error & Sendable)? { first.withLock { $0 } }
  func record(_ error: any Error & Sendable) { first.withLock { $0 = $0 ?? error } }
}

/// A file mapped shared for POSIX msync from many threads; each thread keeps its own dirty pages.
final class SharedMapping: @unchecked Sendable {
  let base: UnsafeMutableRawPointer
  let size: Int
  let flushesPages: Bool
  private let descriptor: Int32

  init(path: String, size: Int, flushesPages: Bool) throws {
    descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0, posix_fallocate(descriptor, 0, off_t(size)) == 0 else {
      throw BaselineError(description: "cannot create \(path) of \(size) bytes")
    }
    guard let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, descriptor, 0), address != MAP_FAILED else {
      throw BaselineError(description: "cannot map \(path)")
    }
    base = address
    self.size = size
    self.flushesPages = flushesPages
  }

  func copy(from source: UnsafeRawBufferPointer, to offset: Int, dirtying pages: inout [Int]) {
    (base + offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
    for page in offset >> 12...(offset + source.count - 1) >> 12 where !pages.contains(page) { pages.append(page) }
  }

  func sync(pages: inout [Int]) throws {
    if flushesPages {
      for page in pages {
        writeBack(base + (page << 12), count: 4096)
      }
      snapshot_sfence()
    }
    pages.removeAll(keepingCapacity: true)
    guard msync(base, size, MS_SYNC) == 0 else { throw BaselineError(description: "msync failed: \(errno)") }
  }

  func close() {
    munmap(base, size)
    Foundation.close(descriptor)
  }
}
