extension Region {
  /// The durable medium a region lives on.
  public enum Medium: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Byte-addressable persistent memory: a file on a DAX file system, or on tmpfs as its stand-in.
    /// Durable through cache-line write-back and a store fence.
    case persistentMemory = 1

    public var description: String {
      switch self {
      case .persistentMemory: return "pm"
      }
    }
  }

  /// The commit protocol a region uses, chosen when it is created and recorded in its header.
  public enum Journal: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The Snapshot paper's protocol: the old contents of each line are logged on its first store in
    /// an epoch; msync copies the changed lines home between three fences. Recovery undoes.
    case undo = 1
    /// New contents are written to the log at msync as one checksummed batch with one fence; the home
    /// copy is updated after that fence. Recovery replays. The default: one fence per msync instead of
    /// three, and nothing written to the medium on the store path.
    case redo = 2

    public var description: String {
      switch self {
      case .undo: return "undo"
      case .redo: return "redo"
      }
    }
  }

  /// How a region is created.
  public struct CreateOptions: Sendable {
    /// The medium; decides how bytes are made durable.
    public var medium: Medium
    /// The commit protocol.
    public var journal: Journal

    /// Creates options; the defaults are persistent memory and the redo journal.
    public init(medium: Medium = .persistentMemory, journal: Journal = .redo) {
      self.medium = medium
      self.journal = journal
    }
  }
}
