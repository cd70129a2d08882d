import CSnapshotPlatform
import SystemPackage

/// Persistent memory (or a tmpfs file standing in for it): stores into a shared mapping, made durable
/// with the processor's cache-line write-back instruction and `sfence`.
package struct PersistentMemory: MemoryMedium {
  package let file: MappedFile
  package let base: UnsafeMutableRawPointer
  package let flushInstruction: CacheLineFlushInstruction
  package let streamInstruction: LineStreamInstruction

  package init(
    file: MappedFile, flushInstruction: CacheLineFlushInstruction = CPUFeatures.current.flushInstruction,
    streamInstruction: LineStreamInstruction = CPUFeatures.current.streamInstruction
  ) {
    self.file = file
    self.base = file.base
    self.flushInstruction = flushInstruction
    self.streamInstruction = streamInstruction
  }

  package var length: Int { file.length }

  package func resize(to length: Int) throws(Errno) {
    try file.resize(to: length)
  }

  package func synchronizeLength() throws(Errno) {
    try file.synchronizeLength()
  }

  @inline(__always)
  package func store(from source: UnsafeRawPointer, count: Int, at offset: Int) {
    (base + offset).copyMemory(from: source, byteCount: count)
  }

  @inline(__always)
  package func storeWord(_ value: UInt64, at offset: Int) {
    (base + offset).storeBytes(of: value, as: UInt64.self)
  }

  @inline(__always)
  package func streamLines(from source: UnsafeRawPointer, lineCount: Int, at offset: Int) {
    let destination = base + offset
    switch streamInstruction {
    case .avx512:
      for line in 0..<lineCount { snapshot_stream_line_avx512(destination + line &* 64, source + line &* 64) }
    case .sse2:
      for line in 0..<lineCount { snapshot_stream_line(destination + line &* 64, source + line &* 64) }
    }
  }

  @inline(__always)
  package func flush(at offset: Int, count: Int) {
    guard count > 0 else { return }
    let first = (offset &>> 6) &<< 6
    let end = offset + count
    switch flushInstruction {
    case .clwb:
      for line in stride(from: first, to: end, by: 64) { snapshot_clwb(base + line) }
    case .clflushopt:
      for line in stride(from: first, to: end, by: 64) { snapshot_clflushopt(base + line) }
    case .clflush:
      for line in stride(from: first, to: end, by: 64) { snapshot_clflush(base + line) }
    case .none:
      break
    }
  }

  @inline(__always)
  package func fence() {
    snapshot_sfence()
  }
}
