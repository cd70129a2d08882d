import SystemPackage

/// What a region needs to know of a journal's format on a memory medium, where its control line sits
/// in the header page and its log after the data.
protocol MemoryJournalLayout {
  /// The log area's size for a region of `lineCount` lines: room for the largest possible commit.
  static func logSize(lineCount: Int) -> Int

  /// The first word of a new region's control line: nothing committed, nothing to recover.
  static func initialControlWord(salt: UInt64) -> UInt64

  /// The epoch up to which the home copy holds every commit, read from the control line's first
  /// word; nil for a journal whose home copy is current after every msync, or a word that fails its
  /// check.
  static func checkpointEpoch(controlWord: UInt64, salt: UInt64) -> UInt64?
}

/// A commit protocol on a memory medium (persistent memory, emulated CXL memory), with its recovery.
protocol MemoryJournal<Medium>: CommitJournal {
  associatedtype Medium: MemoryMedium

  /// Reads the control line and the log and decides what recovery must do, writing nothing.
  static func planRecovery(medium: Medium, header: RegionHeader, path: String) throws(SnapshotError) -> RecoveryPlan

  /// Carries out a plan: afterwards the home copy holds the plan's epoch and the log is retired.
  static func applyRecovery(_ plan: RecoveryPlan, medium: Medium, header: RegionHeader) throws(Errno)

  /// The journal of the region at `path` recovered to `epoch`, whose working copy is `working`, for a
  /// handle that may grow the region up to `maximumSize`.
  init(
    medium: Medium, header: RegionHeader, path: String, working: UnsafeMutableRawPointer, tracking: Region.Tracking, epoch: UInt64,
    maximumSize: Int) throws(Errno)
}

extension Region.Journal {
  /// The format of this journal's records on a memory medium.
  var memoryLayout: any MemoryJournalLayout.Type {
    switch self {
    case .undo: UndoJournalLayout.self
    case .redo: RedoJournalLayout.self
    }
  }

  /// This journal on the memory medium `M`.
  func onMemory<M: MemoryMedium>(_: M.Type) -> any MemoryJournal<M>.Type {
    switch self {
    case .undo: UndoJournal<M>.self
    case .redo: MemoryRedoJournal<M>.self
    }
  }
}
