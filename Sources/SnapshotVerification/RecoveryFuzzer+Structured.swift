import Snapshot

/// Corruptions built to reach one check of recovery each, where a random one almost never does: a
/// random flip lands in a batch's run word, or a valid later batch appears at the log's end, once in
/// millions of cases. Each is made for every seed it applies to and carries the outcome it must have,
/// so a check that a mutant weakens fails the fuzzer by construction, not by chance.
extension RecoveryFuzzer {
  /// What a structured corruption must lead to, besides what every case must.
  enum Expectation {
    /// Opening and inspecting refuse: recovering anything would silently lose a commit.
    case refusal
    /// Opening recovers the commit `epoch`, and inspecting reports `outcome` when it is given.
    case recovery(epoch: UInt64, outcome: RecoveryReport.Outcome?)
  }

  /// Every structured corruption that applies to `seed`.
  func structuredMutations(of seed: Seed) throws -> [Mutation] {
    guard let records = seed.records else { return [] }
    let region = try SeedLayout(seed.image, records: records)
    var mutations: [Mutation] = []
    if region.header.journal == .undo {
      mutations += [damagedUndoEntry(region, record: false), damagedUndoEntry(region, record: true)].compactMap { $0 }
      mutations += [undoRecordOfEpochZero(region), undoRecordOverfull(region)]
      return mutations
    }
    // Inside a checkpoint, a damaged batch cannot be held to an outcome (see `Seed.unverifiable`).
    guard seed.unverifiable.isEmpty else { return [] }
    mutations += [plantedLaterBatch(region, atLogEnd: true), plantedLaterBatch(region, atLogEnd: false)].compactMap { $0 }
    mutations += [runTotalChanged(region), firstBatchMagicDamaged(region), dataLinesSwapped(region)].compactMap { $0 }
    mutations.append(batchCutByLogEnd(region))
    if region.header.backing == .file {
      mutations += [logFileTruncated(region), logHeaderChanged(region, version: false), logHeaderChanged(region, version: true)]
    }
    return mutations
  }

  /// A valid one-line batch of a later epoch written at the log's last two lines, or right where the
  /// replay stops: no crash leaves one there, so the batches it follows were damaged, and recovery must
  /// refuse rather than roll back past them.
  private func plantedLaterBatch(_ region: SeedLayout, atLogEnd: Bool) -> Mutation? {
    guard let salt = region.batchSalt else { return nil }
    let size = RedoJournalLayout.headSize(runCount: 1) + 64
    let position = atLogEnd ? region.log.upperBound - size : region.replayEnd
    guard position >= region.replayEnd, position + size <= region.log.upperBound else { return nil }
    var image = region
    let epoch = region.lastEpoch + 2
    image.write(word: epoch, at: position + 8)
    image.write(word: salt, at: position + 16)
    image.write(word: 1 | 1 << 32, at: position + 24)
    image.write(word: UInt64(region.header.lineCount - 1) | 1 << 32, at: position + RedoJournalLayout.headerSize)
    for word in stride(from: 0, to: 64, by: 8) { image.write(word: 0xA5A5_A5A5_A5A5_A5A5, at: position + size - 64 + word) }
    image.seal(batchAt: position, salt: salt)
    let place = atLogEnd ? "in the log's last two lines" : "where the replay stops"
    return image.mutation("a valid batch of epoch \(epoch) planted \(place)", expecting: .refusal)
  }

  /// The last batch's last run one line longer or shorter, its checksum made to match: the runs no
  /// longer add up to the batch's line count, so it is damaged, and the commit before it is recovered.
  private func runTotalChanged(_ region: SeedLayout) -> Mutation? {
    guard let batch = region.records.batches.last else { return nil }
    let runs = Int(region.word(at: batch.bytes.lowerBound + 24) >> 32)
    let at = batch.bytes.lowerBound + RedoJournalLayout.headerSize + (runs - 1) * 8
    let run = region.word(at: at)
    let first = run & 0xFFFF_FFFF
    let count = run >> 32
    let longer = first + count < UInt64(region.header.lineCount)
    guard longer || count > 1 else { return nil }
    var image = region
    image.write(word: first | (longer ? count + 1 : count - 1) << 32, at: at)
    image.seal(batchAt: batch.bytes.lowerBound, salt: region.word(at: batch.bytes.lowerBound + 16))
    return image.mutation(
      "the last run of batch \(batch.epoch) one line \(longer ? "longer" : "shorter"), checksum resealed",
      expecting: .recovery(epoch: region.epoch(before: batch.epoch), outcome: nil))
  }

  /// The first batch's magic number damaged and every later batch erased: a torn batch of the next
  /// commit, which recovery reports as an interrupted commit abandoned.
  private func firstBatchMagicDamaged(_ region: SeedLayout) -> Mutation? {
    guard let first = region.records.batches.first else { return nil }
    var image = region
    image.write(word: region.word(at: first.bytes.lowerBound) ^ 1, at: first.bytes.lowerBound)
    for later in region.records.batches.dropFirst() { image.write(word: 0, at: later.bytes.lowerBound + 16) }
    return image.mutation(
      "the magic of batch \(first.epoch) damaged and the batches after it erased",
      expecting: .recovery(epoch: region.records.base.epoch, outcome: .abandonedIncompleteCommit))
  }

  /// Two different data lines of the last batch swapped: each line keeps its own checksum, so only a
  /// checksum that depends on the lines' order sees it.
  private func dataLinesSwapped(_ region: SeedLayout) -> Mutation? {
    guard let batch = region.records.batches.last else { return nil }
    let head = RedoJournalLayout.headSize(runCount: Int(region.word(at: batch.bytes.lowerBound + 24) >> 32))
    let lines = Array(stride(from: batch.bytes.lowerBound + head, to: batch.bytes.upperBound, by: 64))
    guard let a = lines.first, let b = lines.dropFirst().first(where: { region.line(at: $0) != region.line(at: a) }) else {
      return nil
    }
    var image = region
    let lineA = region.line(at: a)
    image.write(line: region.line(at: b), at: a)
    image.write(line: lineA, at: b)
    return image.mutation(
      "data lines at \(a) and \(b) of batch \(batch.epoch) swapped",
      expecting: .recovery(epoch: region.epoch(before: batch.epoch), outcome: nil))
  }

  /// A batch head of the next commit where the replay stops, claiming every line of the region, so that
  /// (after an earlier batch) it would end past the log's end. On persistent memory, or when it fits,
  /// that is a torn batch and the last commit stands; a log file holds a batch after another only up
  /// to where it was written, so there the log was cut, and opening must refuse.
  private func batchCutByLogEnd(_ region: SeedLayout) -> Mutation {
    var image = region
    let position = region.replayEnd
    let lines = UInt64(region.header.lineCount)
    image.write(word: UInt64(RedoJournalLayout.magic), at: position)
    image.write(word: region.lastEpoch + 1, at: position + 8)
    image.write(word: region.batchSalt ?? 0, at: position + 16)
    image.write(word: lines | lines << 32, at: position + 24)
    let size = RedoJournalLayout.headSize(runCount: Int(lines)) + 64 * Int(lines)
    let cut = position + size > region.log.upperBound
    let expectation: Expectation = cut && region.header.backing == .file && !region.records.batches.isEmpty
      ? .refusal : .recovery(epoch: region.lastEpoch, outcome: nil)
    return image.mutation("a batch head of commit \(region.lastEpoch + 1) claiming every line where the replay stops", expecting: expectation)
  }

  /// The log file's header rewritten, with a checksum that holds, to name another region or another
  /// format version: opening must refuse.
  private func logHeaderChanged(_ region: SeedLayout, version: Bool) -> Mutation {
    var image = region
    if version {
      image.write(word: region.word(at: 8) & ~0xFFFF_FFFF | UInt64(LogFileHeader.formatVersion + 1), at: 8)
    } else {
      image.write(word: region.header.salt ^ 0x5A5A, at: 16)
    }
    image.sealLogHeader()
    return image.mutation(
      version ? "the log header's format version changed, checksum resealed" : "the log header naming another region, checksum resealed",
      expecting: .refusal)
  }

  /// The log file cut below the capacity its creation wrote, which no crash can do: a batch may have
  /// been cut away with it, so opening must refuse.
  private func logFileTruncated(_ region: SeedLayout) -> Mutation {
    var image = region
    let length = LogFileHeader.batchesOffset + region.header.logSize - 64
    image.truncateLog(to: length)
    return image.mutation("the log file cut to \(length) bytes, below its capacity", expecting: .refusal)
  }

  /// In an active undo record whose home copy has changed, one entry's checksum (or the record's)
  /// damaged: the commit's first fence had completed, so this is damage, not a crash, and recovery
  /// must refuse rather than leave the half-changed home copy as the previous commit.
  private func damagedUndoEntry(_ region: SeedLayout, record: Bool) -> Mutation? {
    let header = region.header
    guard let state = UndoJournalLayout.decodeState(region.word(at: UndoJournalLayout.stateWord), salt: header.salt),
      state.active
    else { return nil }
    let count = Int(region.word(at: UndoJournalLayout.countWord))
    guard count >= 2, count <= header.lineCount else { return nil }
    let images = header.logOffset + UndoJournalLayout.metadataSize(lineCount: header.lineCount)
    func line(ofEntry entry: Int) -> Int { Int(region.word(at: header.logOffset + entry * 16) & 0xFFFF_FFFF) }
    guard let changed = (0..<count).first(where: { entry in
      line(ofEntry: entry) < header.lineCount
        && region.line(at: images + entry * 64) != region.line(at: header.dataOffset + line(ofEntry: entry) * 64)
    }) else { return nil }
    var image = region
    let damaged = record ? UndoJournalLayout.checksumWord : header.logOffset + (changed == 0 ? 1 : 0) * 16 + 8
    image.write(word: region.word(at: damaged) ^ 1, at: damaged)
    let what = record ? "the record's checksum" : "an entry's checksum"
    return image.mutation(
      "\(what) damaged in active undo record \(state.epoch), whose entry \(changed) shows the home copy changed",
      expecting: .refusal)
  }

  /// An active undo state of epoch 0, sealed as the journal seals it: no commit has epoch 0, so
  /// opening must refuse.
  private func undoRecordOfEpochZero(_ region: SeedLayout) -> Mutation {
    var image = region
    image.write(word: UndoJournalLayout.encodeState(epoch: 0, active: true, salt: region.header.salt), at: UndoJournalLayout.stateWord)
    return image.mutation("an active undo state of epoch 0", expecting: .refusal)
  }

  /// An active undo record counting more entries than the region has lines: opening must refuse.
  private func undoRecordOverfull(_ region: SeedLayout) -> Mutation {
    var image = region
    let epoch = max(region.records.base.epoch, 1)
    image.write(word: UndoJournalLayout.encodeState(epoch: epoch, active: true, salt: region.header.salt), at: UndoJournalLayout.stateWord)
    image.write(word: UInt64(region.header.lineCount + 1), at: UndoJournalLayout.countWord)
    return image.mutation("an active undo record of \(region.header.lineCount + 1) entries", expecting: .refusal)
  }
}

/// A seed's files with the places structured corruptions aim at: its header, where its log lies, and
/// the batches recovery would replay. Edits are recorded as the bytes they touch.
private struct SeedLayout {
  var image: CrashImage
  let records: CommitRecords
  let header: RegionHeader
  /// The file and the range of it that hold the log's batches.
  let logFile: RegionFileRole
  let log: Range<Int>
  /// The salt of the log's current batches (the log file's, or the region's on persistent memory); nil
  /// when a log file's header cannot be read.
  let batchSalt: UInt64?
  var touched: [(file: RegionFileRole, bytes: Range<Int>)] = []

  init(_ image: CrashImage, records: CommitRecords) throws {
    self.image = image
    self.records = records
    header = try RegionHeader.decode(Array(image.data.prefix(64)), path: "seed").resized(to: records.dataSize)
    if let logBytes = image.log {
      logFile = .log
      log = LogFileHeader.batchesOffset..<max(LogFileHeader.batchesOffset, logBytes.count)
      batchSalt = try? LogFileHeader.decode(Array(logBytes.prefix(64)), regionSalt: header.salt, path: "seed").logSalt
    } else {
      logFile = .data
      log = header.logOffset..<image.data.count
      batchSalt = header.salt
    }
  }

  /// The epoch of the newest commit the seed records.
  var lastEpoch: UInt64 { records.batches.last?.epoch ?? records.base.epoch }

  /// Where a scan of the log stops: after the last batch recovery replays.
  var replayEnd: Int { records.batches.last?.bytes.upperBound ?? log.lowerBound }

  /// The epoch of the record before the batch of `epoch`.
  func epoch(before epoch: UInt64) -> UInt64 {
    records.batches.last(where: { $0.epoch < epoch })?.epoch ?? records.base.epoch
  }

  /// The bytes of the file the log is in: a structured corruption edits nothing else (the undo
  /// journal's control words are in the same header page as its log's file).
  private var bytes: [UInt8] { logFile == .data ? image.data : image.log! }

  func word(at offset: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
  }

  func line(at offset: Int) -> ArraySlice<UInt8> { bytes[offset..<offset + 64] }

  mutating func write(word: UInt64, at offset: Int) {
    write(bytes: (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) }, at: offset)
  }

  mutating func write(line: ArraySlice<UInt8>, at offset: Int) { write(bytes: Array(line), at: offset) }

  private mutating func write(bytes: [UInt8], at offset: Int) {
    touched.append((logFile, offset..<offset + bytes.count))
    if logFile == .data { image.data.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
    else { image.log!.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
  }

  mutating func truncateLog(to length: Int) {
    touched.append((.log, length..<image.log!.count))
    image.log!.removeSubrange(length...)
  }

  /// Writes the magic and the checksum of the batch at `position` over its epoch, salt, counts, runs
  /// and data, as the journal would have.
  mutating func seal(batchAt position: Int, salt: UInt64) {
    let counts = word(at: position + 24)
    let lines = Int(counts & 0xFFFF_FFFF)
    let runs = Int(counts >> 32)
    var checksum = RedoJournalLayout.Checksum(
      .detected, lines: header.lineChecksum, epoch: word(at: position + 8), salt: salt, countsWord: counts)
    for run in 0..<runs { checksum.add(word: word(at: position + RedoJournalLayout.headerSize + run * 8)) }
    let data = position + RedoJournalLayout.headSize(runCount: runs)
    bytes[data..<data + 64 * lines].withUnsafeBytes { checksum.add(lines: $0.baseAddress!, count: lines) }
    write(word: UInt64(RedoJournalLayout.magic) | UInt64(checksum.value) << 32, at: position)
  }

  /// Writes the log file header's checksum over its first 64 bytes, as the journal would have.
  mutating func sealLogHeader() {
    var header = Array(image.log![0..<64])
    header.replaceSubrange(12..<16, with: [0, 0, 0, 0])
    let checksum = header.withUnsafeBytes { CRC32C.checksum($0) }
    write(word: word(at: 8) & 0xFFFF_FFFF | UInt64(checksum) << 32, at: 8)
  }

  func mutation(_ description: String, expecting expectation: RecoveryFuzzer.Expectation) -> RecoveryFuzzer.Mutation {
    RecoveryFuzzer.Mutation(image: image, description: description, checked: true, touched: touched, expectation: expectation)
  }
}
