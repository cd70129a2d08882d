import SystemPackage

/// What a region file holds, read without changing it.
public struct RegionInfo: Sendable, Equatable {
  /// The region's file.
  public var path: String
  /// The file format version.
  public var formatVersion: UInt32
  /// The backing recorded in the header.
  public var backing: Region.Backing
  /// The commit protocol recorded in the header.
  public var journal: Region.Journal
  /// The number of data bytes.
  public var size: Int
  /// The size of the log in bytes as it is now: the log area at the end of the data file on
  /// persistent memory, the log file on a file.
  public var logSize: Int
  /// The size the redo log rests at between checkpoints; it grows only for a commit larger than that.
  public var restingLogSize: Int
  /// The size of the region's files together in bytes: the data file and, on a file, the log file.
  public var fileSize: Int
  /// The epoch of the last commit the file holds, counting commits recovery would complete.
  public var epoch: UInt64
  /// The epoch up to which the home copy holds every commit (redo journal), or nil (undo journal,
  /// whose home copy is current after every msync).
  public var checkpointEpoch: UInt64?
  /// What opening the region would do to recover it; `.clean` when the log is retired.
  public var pendingRecovery: RecoveryReport.Outcome
}

extension Region {
  /// Reads and checks a region without changing it: header magic, version and checksum, file size,
  /// and every log record recovery would use. It takes a shared lock, so it fails with
  /// ``SnapshotError/locked(path:)`` while the region is open elsewhere.
  ///
  /// A region for which this succeeds opens without error.
  public static func inspect(at path: FilePath) throws(SnapshotError) -> RegionInfo {
    try inspectLog(at: path).info
  }

  /// The bytes of the region's files as they are now: the data file (on persistent memory with the
  /// log at its end) and, on a file, the log file beside it. Nil when a file's size cannot be read.
  public var fileSizes: (data: Int, log: Int)? {
    let committed = file.header.resized(to: journal.committedSize)
    switch file.storage {
    case .mapped(let mapping):
      return (committed.logOffset, mapping.length - committed.logOffset)
    case .logFile(let log):
      guard let data = try? file.descriptor.size(), let logSize = try? log.size() else { return nil }
      return (Int(data), Int(logSize))
    }
  }

  /// The size the redo log rests at between checkpoints (the undo journal's log is always this size).
  public var restingLogSize: Int { file.header.logSize }

  /// The redo log's bytes in use since the last checkpoint and the bytes batches may take before the
  /// next checkpoint; nil with the undo journal. For workloads that aim commits at the log's end.
  package var redoLogSpace: (used: Int, capacity: Int)? {
    (journal as? any CheckpointingJournal)?.logSpace
  }

  /// Where the region at `path` records its commits: the record of the epoch its home copy holds (the
  /// checkpoint word or undo state in the header page, or the log file's header) and the redo batches
  /// opening it would replay. The recovery fuzzer uses it to know which commits a corrupted copy still
  /// proves.
  package static func commitRecords(at path: FilePath) throws(SnapshotError) -> CommitRecords {
    let (info, plan, header, sizes) = try inspectLog(at: path)
    let logFile: RegionFileRole = header.backing == .file ? .log : .data
    let logStart = header.backing == .file ? LogFileHeader.batchesOffset : header.logOffset
    var records = CommitRecords(
      dataSize: header.dataSize,
      base: .init(epoch: info.checkpointEpoch ?? info.epoch, file: logFile, bytes: 0..<(header.backing == .file ? LogFileHeader.size : header.dataOffset)))
    // A size record of epoch e is written once commit e - 1 is durable.
    records.sizeRecords = sizes.slots.indices.compactMap { slot in
      sizes.slots[slot].map { .init(epoch: $0.epoch - 1, file: .data, bytes: SizeRecords.offsets[slot]..<SizeRecords.offsets[slot] + 64) }
    }
    if case .replay(let batches) = plan.work {
      records.batches = batches.map { batch in
        let start = logStart + batch.offset
        let size = RedoJournalLayout.batchSize(lineCount: batch.lineCount, runCount: batch.runCount)
        return .init(epoch: batch.epoch, file: logFile, bytes: start..<start + size)
      }
    }
    return records
  }

  private static func inspectLog(
    at path: FilePath
  ) throws(SnapshotError) -> (info: RegionInfo, plan: RecoveryPlan, header: RegionHeader, sizes: SizeRecords) {
    let file = try RegionFile.open(at: path, access: .inspect)
    defer { file.close() }
    let plan: RecoveryPlan
    let checkpoint: UInt64?
    let logSize: Int
    let fileSize: Int
    let header: RegionHeader
    switch file.storage {
    case .mapped(let mapping):
      let medium = PersistentMemory(file: mapping)
      plan = try planRecovery(memory: medium, header: file.header, path: path.string)
      header = file.header.resized(to: plan.dataSize ?? file.header.dataSize)
      checkpoint = header.journal.memoryLayout.checkpointEpoch(
        controlWord: medium.loadWord(at: RegionHeader.controlOffset), salt: header.salt)
      logSize = mapping.length - header.logOffset
      fileSize = mapping.length
    case .logFile(let log):
      let medium = FileStorage(data: file.descriptor, log: log)
      let (filePlan, logHeader) = try FileRedoJournal.planRecovery(medium: medium, header: file.header, logPath: file.logPath)
      plan = filePlan
      header = file.header.resized(to: plan.dataSize ?? file.header.dataSize)
      checkpoint = logHeader.checkpointEpoch
      logSize = (try? medium.size(of: .log)) ?? 0
      fileSize = ((try? medium.size(of: .data)) ?? header.restingFileSize) + logSize
    }
    let info = RegionInfo(
      path: path.string, formatVersion: header.version, backing: header.backing,
      journal: header.journal, size: header.dataSize, logSize: logSize, restingLogSize: header.logSize, fileSize: fileSize,
      epoch: plan.epoch, checkpointEpoch: checkpoint, pendingRecovery: plan.report.outcome)
    return (info, plan, header, file.sizes)
  }
}

/// The bytes of a region's files that record its commits, and the epoch each proves.
package struct CommitRecords: Sendable {
  package struct Record: Sendable {
    package var epoch: UInt64
    package var file: RegionFileRole
    package var bytes: Range<Int>
  }

  /// The region's data size, which places the log on persistent memory.
  package var dataSize: Int
  /// The record of the epoch the home copy holds.
  package var base: Record
  /// The redo batches recovery replays, oldest first.
  package var batches: [Record] = []
  /// The size records of a region that grew.
  package var sizeRecords: [Record] = []

  /// The latest epoch still proven once the bytes `touched` were changed: each record that is intact
  /// proves its epoch, since recovery must either reach it or refuse.
  package func provenEpoch(despite touched: [(file: RegionFileRole, bytes: Range<Int>)]) -> UInt64 {
    func intact(_ record: Record) -> Bool {
      !touched.contains { $0.file == record.file && $0.bytes.overlaps(record.bytes) }
    }
    return ([base] + batches + sizeRecords).filter(intact).map(\.epoch).max() ?? 0
  }
}
