import SystemPackage

extension Region {
  /// What a region's durable copy lives on, which decides how its bytes are made durable: the
  /// choice the command line's `--medium` makes. (In the code, a medium is the seam a journal writes
  /// through, `MemoryMedium` or `FileMedium`; a backing names which of them a region uses.)
  public enum Backing: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Byte-addressable persistent memory: a file on a DAX file system, or on tmpfs as its stand-in.
    /// Durable through cache-line write-back and a store fence.
    case persistentMemory = 1
    /// An ordinary file on any file system (an SSD, a disk): the data file and a log file beside it,
    /// durable through `pwrite` and `fdatasync`. One `fdatasync` per msync.
    case file = 2

    public var description: String {
      switch self {
      case .persistentMemory: return "pm"
      case .file: return "file"
      }
    }

    /// The backing for a region at `path`: persistent memory on a DAX or tmpfs mount, a file elsewhere.
    public static func automatic(for path: FilePath) -> Backing {
      let directory = path.removingLastComponent()
      let kind = FileSystemKind.of(directory: directory.isEmpty ? "." : directory.string)
      return kind.map { $0.isDirectAccess || $0.type == "tmpfs" || $0.type == "ramfs" } == true ? .persistentMemory : .file
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

  /// How changes to the working copy are found.
  public enum Tracking: Sendable, CaseIterable, CustomStringConvertible {
    /// Stores through the region's API (`store`, `copy`, `fill`, `TrackedPointer`) mark the 64-byte
    /// lines they touch: a bit test per store, and msync writes only the lines changed.
    case lines
    /// The working copy is read-only and the first write to each 4 KiB page faults and records the
    /// page, so any code may write it through ``Region/withUnsafeMutableBytes(_:)``, C libraries
    /// included. Each first write costs a fault (microseconds), and msync writes whole pages. Writes the
    /// kernel makes on the process's behalf (a `read(2)` into the region) fail with EFAULT instead of
    /// faulting: copy through a buffer.
    case pages

    public var description: String { self == .lines ? "lines" : "pages" }
  }

  /// How a region is created.
  public struct CreateOptions: Sendable {
    /// The backing, which decides how bytes are made durable; nil chooses by the path's file system
    /// (``Backing/automatic(for:)``).
    public var backing: Backing?
    /// The commit protocol. Files always use the redo journal.
    public var journal: Journal
    /// How changes are found while this handle is open; not recorded in the file.
    public var tracking: Tracking
    /// Whether this handle is used by one thread at a time or by many at once; not recorded in the file.
    public var threads: Threads
    /// The redo log's resting size in bytes (rounded up to 4 KiB, at most what a commit of every line
    /// needs); nil for the default: on persistent memory a sixteenth of the data and at least 64 MiB, on a file 16 MiB. A commit larger
    /// than the log still succeeds: the log grows for it and shrinks back at the next checkpoint. A
    /// smaller log makes checkpoints more frequent. The undo journal takes no log size.
    public var logSize: Int?
    /// The largest size ``Region/grow(to:)`` may give the region through this handle, in bytes; nil
    /// for ``Region/defaultMaximumSize``. Address space for it is reserved, not memory. Not recorded in
    /// the file: a later open chooses its own.
    public var maximumSize: Int?

    /// Creates options; the defaults are the automatic backing, the redo journal, line tracking, one
    /// thread at a time, the default log size and the largest maximum size.
    public init(
      backing: Backing? = nil, journal: Journal = .redo, tracking: Tracking = .lines, threads: Threads = .one, logSize: Int? = nil,
      maximumSize: Int? = nil
    ) {
      self.backing = backing
      self.journal = journal
      self.tracking = tracking
      self.threads = threads
      self.logSize = logSize
      self.maximumSize = maximumSize
    }

    func resolvedBacking(for path: FilePath) -> Backing {
      backing ?? .automatic(for: path)
    }
  }
}
