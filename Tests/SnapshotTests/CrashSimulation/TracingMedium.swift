import SystemPackage
@testable import Snapshot

/// One durable-write operation of a run, or a note from the workload.
enum TraceEvent: Equatable {
  /// Bytes written with ordinary stores; durable only after a flush of their line and a fence.
  case store(offset: Int, bytes: [UInt8])
  /// Bytes written with non-temporal stores; durable after the next fence.
  case stream(offset: Int, bytes: [UInt8])
  case flush(offset: Int, count: Int)
  case fence
  /// The workload is about to call msync.
  case msyncBegins
  /// msync returned: the commit with this epoch is acknowledged.
  case msyncReturned(epoch: UInt64)
}

/// A medium that performs every operation on persistent memory and records it, for the crash
/// simulator to replay.
final class TracingMedium: ByteAddressableMedium {
  let memory: PersistentMemory
  private(set) var events: [TraceEvent] = []

  init(base: UnsafeMutableRawPointer) {
    memory = PersistentMemory(base: base)
  }

  var base: UnsafeMutableRawPointer { memory.base }

  func store(from source: UnsafeRawPointer, count: Int, at offset: Int) {
    events.append(.store(offset: offset, bytes: Array(UnsafeRawBufferPointer(start: source, count: count))))
    memory.store(from: source, count: count, at: offset)
  }

  func storeWord(_ value: UInt64, at offset: Int) {
    events.append(.store(offset: offset, bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) }))
    memory.storeWord(value, at: offset)
  }

  func streamLines(from source: UnsafeRawPointer, lineCount: Int, at offset: Int) {
    events.append(.stream(offset: offset, bytes: Array(UnsafeRawBufferPointer(start: source, count: lineCount * 64))))
    memory.streamLines(from: source, lineCount: lineCount, at: offset)
  }

  func flush(at offset: Int, count: Int) {
    events.append(.flush(offset: offset, count: count))
    memory.flush(at: offset, count: count)
  }

  func fence() {
    events.append(.fence)
    memory.fence()
  }

  func note(_ event: TraceEvent) {
    events.append(event)
  }

  /// Opens a region whose durable writes are traced.
  static func open(at path: FilePath) throws -> (Region, TracingMedium) {
    var traced: TracingMedium?
    let region = try Region.open(at: path) { base in
      let medium = TracingMedium(base: base)
      traced = medium
      return medium
    }
    return (region, traced!)
  }
}
