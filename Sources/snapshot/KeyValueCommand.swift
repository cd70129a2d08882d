import ArgumentParser
import Foundation
import Snapshot
import SnapshotKV
import SystemPackage

/// `snapshot kv ACTION PATH ...`, one subcommand per action.
struct KeyValueCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kv",
    abstract: "Use a key-value store in a region.",
    discussion: "put and del commit at once; check walks the whole store (heap, index, leak check) and exits 1 with "
      + "the first problem it finds; batch reads commands from standard input. The older order, snapshot kv PATH "
      + "ACTION ARGUMENTS..., works too.",
    subcommands: [Put.self, Get.self, Delete.self, Scan.self, Stats.self, Check.self, Batch.self])

  /// The arguments of `snapshot`, with the older `kv PATH ACTION ...` turned into `kv ACTION PATH ...`.
  static func inSubcommandOrder(_ arguments: [String]) -> [String] {
    let actions = configuration.subcommands.map { $0._commandName }
    guard arguments.count >= 3, arguments[0] == configuration.commandName, !actions.contains(arguments[1]),
      actions.contains(arguments[2])
    else { return arguments }
    var reordered = arguments
    reordered.swapAt(1, 2)
    return reordered
  }

  /// Opens the store and performs `words` (an action and its arguments), or the batch session for nil.
  static func run(_ words: [String]?, on options: StoreOptions) throws {
    let store = try reportingErrors { () throws(SnapshotError) in try options.openStore() }
    defer { try? store.close() }
    guard let words else {
      store.autocommit = false
      runBatch(store)
      return
    }
    var output = AnswerWriter()
    do {
      try perform(words, on: store, output: &output)
    } catch let error as SnapshotError {
      printError("error: \(error)")
      throw ExitCode.failure
    } catch let error as UsageError {
      printError("error: \(error.message)")
      throw ExitCode.validationFailure
    }
  }

  /// The batch session: one answer line per command line, errors reported and survived.
  private static func runBatch(_ store: SnapshotKV) {
    var output = AnswerWriter()
    while let line = readLine(strippingNewline: true) {
      let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
      guard !words.isEmpty else { continue }
      do {
        try perform(words, on: store, output: &output)
      } catch let error as SnapshotError {
        output.answer("error: \(error)")
      } catch let error as UsageError {
        output.answer("error: \(error.message)")
      } catch {
        output.answer("error: \(error)")
      }
    }
    if store.region.hasChanges {
      try? store.rollback()
      printError("note: changes after the last commit were discarded")
    }
  }

  struct UsageError: Error {
    var message: String
  }

  private static func perform(_ words: [String], on store: SnapshotKV, output: inout AnswerWriter) throws {
    func argument(_ index: Int, _ name: String) throws -> String {
      guard index < words.count else { throw UsageError(message: "\(words[0]) needs \(name)") }
      return words[index]
    }
    switch words[0] {
    case "put":
      try store.put(Array(try argument(1, "a key").utf8), Array(try argument(2, "a value").utf8))
      output.answer("ok")
    case "get":
      output.answer(try store.get(Array(try argument(1, "a key").utf8)).map { String(decoding: $0, as: UTF8.self) } ?? "(nil)")
    case "del":
      output.answer(try store.delete(Array(try argument(1, "a key").utf8)) ? "ok" : "(nil)")
    case "scan":
      let start = try argument(1, "a start key")
      guard let count = Int(try argument(2, "a count")), count >= 0 else { throw UsageError(message: "scan needs a count") }
      for entry in try store.scan(from: Array(start.utf8), count: count) {
        output.answer("\(String(decoding: entry.key, as: UTF8.self)) \(String(decoding: entry.value, as: UTF8.self))")
      }
      output.answer("end")
    case "check":
      try store.check()
      output.answer("ok: \(store.count) keys; heap: \(store.statistics)")
    case "commit":
      output.answer("committed \(try store.commit())")
    case "stats":
      let region = store.region
      let files = region.fileSizes.map { "\(ByteCount(bytes: $0.data + $0.log)) (data file \(ByteCount(bytes: $0.data)), log \(ByteCount(bytes: $0.log)))" }
      output.answer("""
        keys: \(store.count)
        index: \(store.index)
        medium: \(region.backing)
        epoch: \(region.epoch)
        size: \(ByteCount(bytes: region.size)) (grows up to \(ByteCount(bytes: store.maximumSize)))
        files: \(files ?? "unknown")
        heap: \(store.statistics)
        """)
    default:
      throw UsageError(message: "unknown command \(words[0]) (put, get, del, scan, commit, stats, check)")
    }
  }
}

/// The store an action works on, and how to create it when it does not exist.
struct StoreOptions: ParsableArguments {
  @Argument(help: "The store's region file.")
  var path: String

  @Flag(help: "Create the store when the file does not exist, or in a region nothing was committed to.")
  var create = false

  @Option(help: "The region's initial size, when creating (default 1M: it grows as the store fills).", transform: ByteCount.parse)
  var size: ByteCount?

  @Option(help: "The largest the region may grow to while this command has it open (default: the largest region, 256G less a page).", transform: ByteCount.parse)
  var maximumSize: ByteCount?

  @Option(help: "The medium, when creating: auto, pm or file.")
  var medium: MediumArgument?

  @Option(help: "The index, when creating: ordered (B+tree, scans) or hashed.")
  var index: IndexArgument?

  @Option(help: "The redo log's resting size, when creating (default: on pm a sixteenth of the data, at least 64M; on a file 16M).", transform: ByteCount.parse)
  var logSize: ByteCount?

  func openStore() throws(SnapshotError) -> SnapshotKV {
    if create, !FileManager.default.fileExists(atPath: path) {
      return try SnapshotKV.create(
        at: FilePath(path), size: size?.bytes, backing: (medium ?? .auto).value, logSize: logSize?.bytes, maximumSize: maximumSize?.bytes,
        index: (index ?? .ordered).value)
    }
    let store = try create ? openOrFormat() : SnapshotKV.open(at: FilePath(path), maximumSize: maximumSize?.bytes)
    // Options that only creation can honour must not be dropped without a word.
    var conflicts: [String] = []
    if let medium = medium?.value, medium != store.region.backing { conflicts.append("--medium \(self.medium!) (it is \(store.region.backing))") }
    if let index = index?.value, index != store.index { conflicts.append("--index \(self.index!) (it is \(store.index))") }
    if logSize != nil { conflicts.append("--log-size \(logSize!)") }
    // The region's size is the one asked for rounded up to whole pages.
    if let size, size.bytes > store.region.size || store.region.size - size.bytes >= 4096 {
      conflicts.append("--size \(size) (it is \(ByteCount(bytes: store.region.size)))")
    }
    guard conflicts.isEmpty else {
      try? store.close()
      throw .invalidOptions(reason: "\(path): the store exists, and \(conflicts.joined(separator: ", ")) "
        + "\(conflicts.count == 1 ? "applies" : "apply") only when creating one; "
        + "leave the option out, or choose a new path")
    }
    return store
  }

  /// The store in an existing region; with `--create`, a region nothing was ever committed to (made
  /// by `snapshot create`) gets an empty store, as a new file would. A region holding anything else
  /// is never formatted.
  private func openOrFormat() throws(SnapshotError) -> SnapshotKV {
    let region = try Region.open(at: FilePath(path), maximumSize: maximumSize?.bytes)
    do throws(SnapshotError) {
      if region.epoch == 0 {
        return try SnapshotKV(formatting: region, index: (index ?? .ordered).value)
      }
      return try SnapshotKV(region: region)
    } catch {
      try? region.close()
      throw error
    }
  }
}

/// Writes answers to standard output, each flushed at once.
struct AnswerWriter {
  mutating func answer(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }
}

enum IndexArgument: String, ExpressibleByArgument, CaseIterable {
  case ordered
  case hashed

  var value: SnapshotKV.Index { self == .ordered ? .ordered : .hashed }
}

extension KeyValueCommand {
  struct Put: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Store a value under a key, and commit.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value.") var value: String
    func run() throws { try KeyValueCommand.run(["put", key, value], on: store) }
  }

  struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the value stored under a key, or (nil).")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The key.") var key: String
    func run() throws { try KeyValueCommand.run(["get", key], on: store) }
  }

  struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete a key, and commit; (nil) if it was absent.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The key.") var key: String
    func run() throws { try KeyValueCommand.run(["del", key], on: store) }
  }

  struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print up to COUNT entries from the first key at or after FROM, in key order, then end.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The first key.") var from: String
    @Argument(help: "The most entries to print.") var count: String
    func run() throws { try KeyValueCommand.run(["scan", from, count], on: store) }
  }

  struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the number of keys, the index, the medium, the epoch and the heap's figures.")
    @OptionGroup var store: StoreOptions
    func run() throws { try KeyValueCommand.run(["stats"], on: store) }
  }

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Walk the whole store (heap, index, leak check); exit 1 with the first problem found.")
    @OptionGroup var store: StoreOptions
    func run() throws { try KeyValueCommand.run(["check"], on: store) }
  }

  struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run commands from standard input, one per line.",
      discussion: "Commands: put K V, get K, del K, scan K N, commit, stats. Each is answered at once: ok, the value, "
        + "(nil), scan results (KEY VALUE) then end, committed EPOCH (printed only after msync returned). Changes not "
        + "followed by commit are discarded at the end of the input. An error prints error: REASON and the session "
        + "goes on.")
    @OptionGroup var store: StoreOptions
    func run() throws { try KeyValueCommand.run(nil, on: store) }
  }
}
