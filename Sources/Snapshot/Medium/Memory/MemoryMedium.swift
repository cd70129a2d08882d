import SystemPackage

/// The persistence seam for byte-addressable media: every durable write of the journals and of recovery
/// goes through one of these five operations, so that a tracing medium can record a run and a crash
/// simulator can replay it. Journals are generic over the medium, so in release builds the production
/// medium's operations inline into them and the seam costs nothing.
///
/// The crash model behind the operations: the durable copy is made of aligned 8-byte units. A unit
/// written by `store` or `storeWord` may reach the medium at any moment (the cache may evict it) or
/// never, until a `flush` of its line followed by a `fence`. Units written by `streamLines` bypass the
/// cache and are durable after the next `fence`. Reads go straight through `base`. The durable copy's
/// length (the redo log at its end grows and shrinks) changes with `resize`, and a new length is
/// durable after `synchronizeLength`; until then a crash may leave the old one.
package protocol MemoryMedium: SendableMetatype {
  /// The address at which the durable copy is mapped.
  var base: UnsafeMutableRawPointer { get }

  /// Copies `count` bytes to `offset` with ordinary (cached) stores.
  func store(from source: UnsafeRawPointer, count: Int, at offset: Int)

  /// Stores one aligned 8-byte word: the unit the medium persists atomically.
  func storeWord(_ value: UInt64, at offset: Int)

  /// Copies `lineCount` 64-byte lines to the line-aligned `offset` with non-temporal stores.
  func streamLines(from source: UnsafeRawPointer, lineCount: Int, at offset: Int)

  /// Starts writing back the cache lines that hold `[offset, offset + count)`.
  func flush(at offset: Int, count: Int)

  /// Waits until every earlier flush and non-temporal store is durable.
  func fence()

  /// The durable copy's length in bytes: the header page, the data and the log as it is now.
  var length: Int { get }

  /// Makes the durable copy `length` bytes long (whole pages). New bytes are allocated, zero and
  /// mapped at `base + old length` before this returns, so stores into them cannot fail; bytes past a
  /// shorter length are gone.
  func resize(to length: Int) throws(Errno)

  /// Makes the current length durable.
  func synchronizeLength() throws(Errno)

  /// The deliberate bugs switched on, for the crash simulator's mutants; none in production.
  var faults: Fault { get }

  /// Whether home writes should go in address order: true where touching a page costs far more than
  /// writing a line (a device that caches pages), false where sorting them costs more than it saves.
  static var prefersAddressOrder: Bool { get }

  /// Whether work a journal would hand to another core runs on the committing thread instead, at
  /// points that stand for the extremes of its timing (`CheckpointAhead`): true for a medium that
  /// records one ordered trace of the writes for the crash simulator.
  static var runsHandedOffWorkInline: Bool { get }
}

extension MemoryMedium {
  package static var prefersAddressOrder: Bool { false }
  package static var runsHandedOffWorkInline: Bool { false }
}

extension MemoryMedium {
  /// Reads the aligned 8-byte word at `offset` of the durable copy.
  @inline(__always)
  func loadWord(at offset: Int) -> UInt64 {
    base.load(fromByteOffset: offset, as: UInt64.self)
  }
}
