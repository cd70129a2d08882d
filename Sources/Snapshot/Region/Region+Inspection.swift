import SystemPackage

/// What a region file holds, read without changing it.
public struct RegionInfo: Sendable, Equatable {
  /// The region's file.
  public var path: String
  /// The file format version.
  public var formatVersion: UInt32
  /// The medium recorded in the header.
  public var medium: Region.Medium
  /// The commit protocol recorded in the header.
  public var journal: Region.Journal
  /// The number of data bytes.
  public var size: Int
  /// The size of the log area in bytes.
  public var logSize: Int
  /// The size of the whole file in bytes.
  public var fileSize: Int
  /// The epoch of the last commit the file holds, counting commits recovery would complete.
  public var epoch: UInt64
  /// What opening the region would do to recover it; `.clean` when the log is retired.
  public var pendingRecovery: RecoveryReport.Outcome
}

extension Region {
  /// Reads and checks a region file without changing it: header magic, version and checksum, file
  /// size, and every log record recovery would use. It takes a shared lock, so it fails with
  /// ``SnapshotError/locked(path:)`` while the region is open elsewhere.
  ///
  /// A file for which this succeeds opens without error.
  public static func inspect(at path: FilePath) throws(SnapshotError) -> RegionInfo {
    let file = try RegionFile.open(at: path, access: .inspect)
    defer { file.close() }
    let header = file.header
    let medium = PersistentMemory(base: file.mapping.base)
    let plan = try planRecovery(medium: medium, header: header, path: path.string)
    return RegionInfo(
      path: path.string, formatVersion: RegionHeader.formatVersion, medium: header.medium,
      journal: header.journal, size: header.dataSize, logSize: header.logSize, fileSize: header.fileSize,
      epoch: plan.epoch, pendingRecovery: plan.report.outcome)
  }
}
