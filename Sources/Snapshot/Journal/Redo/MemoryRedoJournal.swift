import SystemPackage

/// A commit protocol with one fence per msync.
///
/// - Store path: nothing reaches the medium; the region only marks lines dirty.
/// - msync: the changed lines' new contents, coalesced into runs, are appended to the log as one batch
///   whose header carries the epoch, the salt and a checksum over everything; one fence makes it
///   durable, and that is the commit point: a torn batch fails its checksum. Nothing else is written:
///   the committed state is the home copy plus the batches since the last checkpoint. Every line of
///   the batch, its head too, is streamed (non-temporal stores): no line of the log is read first.
/// - Checkpoint (when the log holds `checkpointThreshold` bytes, when the next batch would not fit, at
///   close, after recovery): the newest logged version of every line goes home (a line committed many
///   times is written once, or, where lines seldom repeat, every run oldest first:
///   `CheckpointDeduplication`), fence, then the checkpoint word with the last epoch, flush, fence.
///   Only then is the log reused from its start, and a log grown past its resting size cut back to it.
///   Each time the log grows by an eighth of the threshold, the batches committed since the last
///   hand-off go home on another core (`CheckpointAhead`), so the checkpoint itself writes only the
///   rest, after waiting for them; not on emulated CXL memory, whose checkpoint writes home in one
///   pass in address order. Where lines repeat, a chunk goes an eighth of the threshold after its
///   end, and leaves to later the lines that the batches since commit again, so that a hot line goes
///   home once per checkpoint, as it would without the worker.
/// - Threads sharing the working copy: the batch is copied whole into a staging buffer while changes
///   wait, and written from there once they resume.
/// - A batch larger than the whole resting log: after the checkpoint, the log (the end of the data
///   file) is extended for it and the new length made durable (`fsync`) before any byte of the batch
///   is written. A failure there throws with nothing written; the commit's fence stays the only
///   ordering point of a commit that fits.
/// - A commit that grows the region (`MemoryRedoJournal+Growth`) checkpoints first, so that the data
///   can take over the start of the emptied log, then records the new size for its own epoch before
///   its batch is written at the new end of the data.
/// - Recovery (`MemoryRedoJournal+Recovery`) replays every valid batch after the checkpoint, then checkpoints.
final class MemoryRedoJournal<Medium: MemoryMedium>: MemoryJournal, CheckpointingJournal {
  let medium: Medium
  var faults: Fault { medium.faults }
  /// The header, with the data size the last commit made durable.
  var header: RegionHeader
  /// The size records in the header page, as this journal last wrote them.
  var sizes: SizeRecords
  /// The size the next commit grows the region to.
  var targetSize: Int?
  let path: String
  let working: UnsafeRawPointer
  let crc = CRC32C.Implementation.detected
  let lineChecksum: RedoJournalLayout.LineChecksum
  private(set) var epoch: UInt64
  private(set) var bytesWritten = 0
  /// Log bytes after which the next msync checkpoints first: this bounds both the time a checkpoint
  /// takes and the log recovery replays after a crash.
  var checkpointThreshold: Int
  /// Where the next batch goes, relative to the start of the log.
  private var tail = 0
  /// Where each batch since the last checkpoint starts, oldest first. Appended to by every commit,
  /// always under the region's serialization, so Swift's run-time exclusivity check (about 80
  /// instructions per commit) is left out.
  @exclusivity(unchecked) private var batches: [Int] = []
  /// The lines of `batches`, a line counted once per batch that holds it.
  private var loggedLines = 0
  /// Whether the next checkpoint writes each line home once or every logged run.
  private var deduplication = CheckpointDeduplication()
  /// Scratch bits, all clear between calls: at a checkpoint, the lines already written home; in
  /// `restore`, the lines wanted.
  private let scratch: LineBitmap
  /// When threads share the working copy: a batch's lines are copied here, in batch order, while
  /// changes wait; then changes resume, and the batch is checksummed and streamed to the log from
  /// here, so that a line changing meanwhile cannot disagree with its checksum.
  /// It grows to the largest batch, as a file journal's batch buffer does.
  private var staging: UnsafeMutableRawPointer?
  /// The lines `staging` holds.
  private var stagingCapacity = 0
  /// The next batch's head (header and run words) is composed here, then streamed to the log in
  /// whole lines. Stored word by word into the log, each head line, long out of the cache, was
  /// first read from memory: a small commit waited for that read about as long as for its fence.
  private var headBuffer: UnsafeMutableRawPointer
  private var headCapacity: Int
  /// Writes batches home ahead of the checkpoint; nil where the checkpoint writes home in address order.
  private let ahead: CheckpointAhead<Medium>?
  /// `batches[..<handedOff]` went to `ahead` since the last checkpoint; `handedOffTail` is the log
  /// position of the last hand-off (or of the last chunk's end being set).
  private var handedOff = 0
  private var handedOffTail = 0
  /// Where the next chunk ends, when the checkpoint looks for newest versions: it is set an eighth of
  /// the threshold before the chunk is handed off, so that the batches logged in between can tell the
  /// chunk which of its lines are committed again and go home later.
  private var chunkEnd: Int?

  static var defaultCheckpointThreshold: Int { 64 << 20 }

  var logSpace: (used: Int, capacity: Int) { (tail, logSize) }

  /// The log's size now: its resting size, `header.logSize`, or more while it holds a batch that
  /// needed more.
  private var logSize: Int { medium.length - header.logOffset }

  var committedSize: Int { header.dataSize }

  /// Any tracking: the redo journal reads the changed lines at msync, from the working copy.
  init(
    medium: Medium, header: RegionHeader, path: String, working: UnsafeMutableRawPointer, tracking _: Region.Tracking, epoch: UInt64,
    maximumSize: Int
  ) throws(Errno) {
    self.medium = medium
    self.header = header
    lineChecksum = header.lineChecksum
    self.sizes = Self.sizeRecords(medium: medium, header: header)
    self.path = path
    self.working = UnsafeRawPointer(working)
    self.epoch = epoch
    self.checkpointThreshold = min(header.logSize, Self.defaultCheckpointThreshold)
    self.scratch = try LineBitmap(lineCount: maximumSize / 64)
    headCapacity = RegionHeader.pageSize
    headBuffer = UnsafeMutableRawPointer.allocate(byteCount: headCapacity, alignment: 64)
    batches.reserveCapacity(1024)
    ahead = Medium.prefersAddressOrder ? nil : try CheckpointAhead(medium: medium, header: header, lineCount: maximumSize / 64)
  }

  func willGrow(to size: Int) {
    targetSize = size
  }

  func cancelGrowth() {
    targetSize = nil
  }

  func lineWillChange(_ line: Int) {}

  func stopBackgroundWork() {
    ahead?.abandon()
  }

  /// Chunks of batches handed to `CheckpointAhead` so far, for tests.
  var chunksWrittenAhead: Int { ahead?.chunksHandedOff ?? 0 }

  func workingCopyIsShared() {
    guard staging == nil else { return }
    reserveStaging(lines: 64)
  }

  /// A staging buffer of at least `lines` lines.
  @inline(never)
  private func reserveStaging(lines: Int) {
    staging?.deallocate()
    stagingCapacity = max(lines, 2 * stagingCapacity)
    staging = UnsafeMutableRawPointer.allocate(byteCount: stagingCapacity * 64, alignment: 64)
  }

  /// Copies the batch's lines into the staging buffer (threads share the working copy), in batch
  /// order.
  @inline(never)
  private func stage(_ lines: UnsafeBufferPointer<UInt32>) {
    if lines.count > stagingCapacity { reserveStaging(lines: lines.count) }
    var place = staging!
    for run in lines.lineRuns {
      place.copyMemory(from: working + run.first * 64, byteCount: run.count * 64)
      place += run.count * 64
    }
  }

  deinit {
    staging?.deallocate()
    headBuffer.deallocate()
  }

  @_specialize(exported: false, where Medium == PersistentMemory)
  func commit(_ lines: UnsafeBufferPointer<UInt32>) throws(SnapshotError) {
    try commitBatch(lines, linesRead: {})
  }

  /// With threads, changes resume (`linesRead`) as soon as the batch is staged and the log is ready
  /// for it, while it is checksummed, streamed and fenced.
  @_specialize(exported: false, where Medium == PersistentMemory)
  func commit(_ lines: UnsafeBufferPointer<UInt32>, linesRead: () -> Void) throws(SnapshotError) {
    try commitBatch(lines, linesRead: linesRead)
  }

  /// Both commits, inlined into each: one thread's pays no call to an empty `linesRead`.
  @inline(__always)
  private func commitBatch(_ lines: UnsafeBufferPointer<UInt32>, linesRead: () -> Void) throws(SnapshotError) {
    let next = epoch + 1
    let shared = staging != nil
    if shared { stage(lines) }
    var runCount = 0
    for _ in lines.lineRuns { runCount += 1 }
    let head = RedoJournalLayout.headSize(runCount: runCount)
    let size = head + 64 * lines.count
    if let targetSize {
      try grow(to: targetSize, toHold: size)
      self.targetSize = nil
    } else {
      if tail + size > logSize || tail >= checkpointThreshold {
        checkpoint()
      }
      if size > logSize {
        try extendLog(toHold: size)
      }
    }
    if head > headCapacity { reserveHead(head) }
    if shared { linesRead() }
    let batch = header.logOffset + tail
    writeBatch(lines, runCount: runCount, epoch: next, at: batch, headSize: head)
    medium.fence(unless: .dropCommitFence)

    batches.append(tail)
    loggedLines += lines.count
    tail += size
    bytesWritten += size
    epoch = next
    if let ahead, tail - handedOffTail >= checkpointThreshold / 8, ahead.isIdle {
      handOff(to: ahead)
    }
    if !shared { linesRead() }
  }

  /// Hands the batches committed since the last hand-off to `ahead`. Where lines repeat (the
  /// checkpoint looks for newest versions, and the last looks did not find lines seldom repeated), a
  /// chunk goes one eighth of the threshold after its end was set, with the batches since as the newer
  /// ones whose lines it leaves: a line committed in every chunk goes home once, at the checkpoint,
  /// not once per chunk. Where lines seldom repeat, every batch since the last hand-off goes at once,
  /// and the checkpoint is left at most an eighth of the log.
  private func handOff(to ahead: CheckpointAhead<Medium>) {
    let looks = deduplication.looks
    defer { handedOffTail = tail }
    guard looks, !deduplication.linesSeldomRepeat else {
      ahead.handOff(batches[handedOff...], newer: [], header: header, deduplicating: looks)
      handedOff = batches.count
      return
    }
    if let end = chunkEnd {
      ahead.handOff(batches[handedOff..<end], newer: batches[end...], header: header, deduplicating: true)
      handedOff = end
    }
    chunkEnd = batches.count
  }

  /// Makes the empty log large enough for a batch of `size` bytes, durably, before the batch is
  /// written: a batch beyond a length that a crash could undo would be a commit that vanishes.
  @inline(never)
  private func extendLog(toHold size: Int) throws(SnapshotError) {
    let length = header.logOffset + roundUp(size, to: RegionHeader.pageSize)
    try resizeDurably(to: length, operation: "extend the log") {}
  }

  /// Makes the data file `length` bytes long, calls `prepare` (which writes into the new length), and
  /// makes the length durable; a failure throws with nothing committed.
  func resizeDurably(to length: Int, operation: String, prepare: () -> Void) throws(SnapshotError) {
    do throws(Errno) {
      try medium.resize(to: length)
      prepare()
      if !medium.faults.contains(.skipLengthSync) { try medium.synchronizeLength() }
    } catch {
      throw error == .noSpace || error == .fileTooLarge
        ? .noSpace(path: path, needed: Int64(length)) : .system(path: path, operation: operation, errno: error)
    }
  }


  /// A head buffer of at least `size` bytes, for a batch with more runs than any before.
  @inline(never)
  private func reserveHead(_ size: Int) {
    headBuffer.deallocate()
    headCapacity = roundUp(size, to: RegionHeader.pageSize)
    headBuffer = UnsafeMutableRawPointer.allocate(byteCount: headCapacity, alignment: 64)
  }

  /// Encodes the batch into the log at `batch`: its lines streamed as the encoder goes, then its
  /// head, once the checksum is known. Not inlined into `commit`: commit's unspecialized entry
  /// point, which only forwards to its specialization, would otherwise look up the sink's generic
  /// metadata on every call (a few hundred instructions per msync).
  @_specialize(exported: false, where Medium == PersistentMemory)
  @inline(never)
  private func writeBatch(_ lines: UnsafeBufferPointer<UInt32>, runCount: Int, epoch: UInt64, at batch: Int, headSize: Int) {
    // The bytes after the last run word are part of no record; zero, rather than a former head's.
    (headBuffer + headSize - 64).initializeMemory(as: UInt8.self, repeating: 0, count: 64)
    RedoBatchEncoder(crc: crc, lineChecksum: lineChecksum, working: working).encode(
      lines, runCount: runCount, epoch: epoch, salt: header.salt,
      into: MappedLog(journal: Unmanaged.passUnretained(self), batch: batch, staging: staging, head: headBuffer, headSize: headSize))
    if medium.faults.contains(.dropLogFlush) {
      medium.store(from: headBuffer, count: headSize, at: batch)
    } else {
      medium.streamLines(from: headBuffer, lineCount: headSize / 64, at: batch)
    }
  }

  /// The last committed contents of `lines` are the newest logged version since the checkpoint, or
  /// the home copy's.
  func restore(_ lines: UnsafeBufferPointer<UInt32>, into working: UnsafeMutableRawPointer) {
    // The scratch bitmap marks the wanted lines, so that walking the log costs a bit test per line.
    for line in lines { scratch.insert(Int(line)) }
    var newest: [Int: Int] = [:]
    let log = Self.reader(medium: medium, header: header)
    for batch in batches {
      log.forEachRun(ofBatchAt: batch) { first, count, data in
        for line in first..<first + count where scratch.contains(line) {
          newest[line] = header.logOffset + data + (line - first) * 64
        }
      }
    }
    for line in lines.map(Int.init) {
      scratch.clearWord(containing: line)
      let source = newest[line] ?? header.dataOffset + line * 64
      (working + line * 64).copyMemory(from: medium.base + source, byteCount: 64)
    }
  }

  @_specialize(exported: false, where Medium == PersistentMemory)
  func checkpoint() {
    guard !batches.isEmpty else { return }
    if medium.faults.contains(.commitBeforePayload) {
      Self.writeCheckpoint(epoch: epoch, medium: medium, header: header)
    }
    let linesAhead = medium.faults.contains(.checkpointAheadNotAwaited) ? 0 : ahead?.wait() ?? 0
    let lines = linesAhead + Self.writeHome(
      batches: batches[handedOff...], medium: medium, header: header, written: scratch, deduplicating: deduplication.looks)
    deduplication.checkpointed(logged: loggedLines, written: lines)
    if medium.faults.contains(.restLogBeforeCheckpoint) {
      Self.restLog(medium: medium, header: header)
    }
    Self.writeCheckpoint(epoch: epoch, medium: medium, header: header)
    bytesWritten += lines * 64 + 8
    batches.removeAll(keepingCapacity: true)
    handedOff = 0
    handedOffTail = 0
    chunkEnd = nil
    loggedLines = 0
    tail = 0
    Self.restLog(medium: medium, header: header)
  }
}

/// A batch written into the log of a memory medium: lines streamed in place, head words stored into
/// the journal's head buffer (streamed after them). When threads share the working copy the lines
/// come from the staging buffer, where the whole batch was staged in batch order.
///
/// It reaches the medium through its journal, unretained: it lives only inside the journal's
/// `writeBatch`. A copy of the medium held here was retained for the batch and released right after
/// its last line was streamed, and that release, an atomic decrement, waited for the streamed lines
/// to reach memory, where the commit's fence after it lets the processor go on: on an Intel Xeon,
/// 90 ns per operation of YCSB A on persistent memory, a quarter of the paper's msync
/// (docs/PERFORMANCE.md).
private struct MappedLog<Medium: MemoryMedium>: RedoBatchSink {
  let journal: Unmanaged<MemoryRedoJournal<Medium>>
  let batch: Int
  let staging: UnsafeMutableRawPointer?
  let head: UnsafeMutableRawPointer
  let headSize: Int

  @inline(__always)
  func storeWord(_ word: UInt64, at offset: Int) {
    (head + offset).storeBytes(of: word, as: UInt64.self)
  }

  @inline(__always)
  func writeLines(from source: UnsafeRawPointer, count: Int, at offset: Int) -> UnsafeRawPointer {
    var source = source
    if let staging { source = UnsafeRawPointer(staging + (offset - headSize)) }
    journal._withUnsafeGuaranteedRef { $0.medium.streamLines(from: source, lineCount: count, at: batch + offset) }
    return source
  }
}
