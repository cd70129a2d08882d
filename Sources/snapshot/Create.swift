import ArgumentParser
import Snapshot
import SystemPackage

struct Create: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Create a region file filled with zeros.",
    discussion: "The whole file is allocated now, so a full file system fails here rather than later.")

  @Argument(help: "The region file to create.")
  var path: String

  @Option(help: "The data size: bytes, or with a K, M, G or T suffix (rounded up to 4 KiB).", transform: ByteCount.parse)
  var size: ByteCount

  @Option(help: "The durable medium: auto (pm on a DAX or tmpfs mount, file elsewhere), pm, or file.")
  var medium: MediumArgument = .auto

  @Option(help: "The commit protocol: redo (one fence per msync) or undo (the paper's, three fences).")
  var journal: JournalArgument = .redo

  @Option(
    help: "The redo log's resting size (default: on pm a sixteenth of the data, at least 64M; on a file 16M); it grows for a larger commit until the next checkpoint.",
    transform: ByteCount.parse)
  var logSize: ByteCount?

  func run() throws {
    let region = try reportingErrors { () throws(SnapshotError) in
      try Region.create(
        at: FilePath(path), size: size.bytes,
        options: .init(backing: medium.value, journal: journal.value, logSize: logSize?.bytes))
    }
    print("created \(path): \(region.size) bytes, medium \(region.backing), \(region.journalKind) journal")
    try reportingErrors { () throws(SnapshotError) in try region.close() }
  }
}

/// A byte count such as `4096`, `64K`, `64M` or `1G`.
struct ByteCount: CustomStringConvertible {
  var bytes: Int

  /// The largest whole unit: `256M` rather than 268435456.
  var description: String {
    for (unit, size) in [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where bytes % size == 0 {
      return "\(bytes / size)\(unit)"
    }
    return "\(bytes)"
  }

  /// Parses an option's argument, saying what is wrong with one it refuses.
  static func parse(_ argument: String) throws -> ByteCount {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = argument.uppercased()
    if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
    var multiplier = 1
    if let last = digits.last, let unit = units[last] {
      multiplier = unit
      digits.removeLast()
    }
    guard let value = Int(digits) else {
      throw ValidationError("'\(argument)' is not a byte count: write digits with an optional K, M, G or T suffix, for example 64M")
    }
    guard value > 0 else { throw ValidationError("a size must be at least one byte") }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
    guard !overflow else { throw ValidationError("'\(argument)' is more bytes than a 64-bit count holds") }
    return ByteCount(bytes: bytes)
  }
}

enum MediumArgument: String, ExpressibleByArgument, CaseIterable {
  case auto
  case pm
  case file

  /// The medium to ask for; nil lets the library choose by the path's file system.
  var value: Region.Backing? {
    switch self {
    case .auto: return nil
    case .pm: return .persistentMemory
    case .file: return .file
    }
  }
}

enum JournalArgument: String, ExpressibleByArgument, CaseIterable {
  case redo
  case undo

  var value: Region.Journal {
    switch self {
    case .redo: return .redo
    case .undo: return .undo
    }
  }
}
