import ArgumentParser
import Foundation
import Snapshot
import SystemPackage

struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a region's medium, size, epoch, log state and format version, without changing it.")

  @Argument(help: "The region file.")
  var path: String

  @Flag(help: "Print JSON instead of text.")
  var json = false

  func run() throws {
    let info = try reportingErrors { () throws(SnapshotError) in try Region.inspect(at: FilePath(path)) }
    let summary = InfoSummary(info)
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(summary), as: UTF8.self))
    } else {
      print("""
        path:        \(summary.path)
        format:      version \(summary.formatVersion)
        medium:      \(summary.medium)
        journal:     \(summary.journal)
        size:        \(summary.size) bytes
        log:         \(summary.logSize) bytes (rests at \(summary.restingLogSize))
        files:       \(summary.fileSize) bytes
        epoch:       \(summary.epoch)
        checkpoint:  \(summary.checkpointEpoch.map { "epoch \($0)" } ?? "none (the undo journal's home copy is always current)")
        log state:   \(summary.logState)
        """)
    }
  }
}

/// What `info` prints, in a form JSONEncoder can write.
struct InfoSummary: Codable {
  var path: String
  var formatVersion: UInt32
  var medium: String
  var journal: String
  var size: Int
  var logSize: Int
  var restingLogSize: Int
  var fileSize: Int
  var epoch: UInt64
  var checkpointEpoch: UInt64?
  var logState: String
  var needsRecovery: Bool

  init(_ info: RegionInfo) {
    path = info.path
    formatVersion = info.formatVersion
    medium = info.backing.description
    journal = info.journal.description
    size = info.size
    logSize = info.logSize
    restingLogSize = info.restingLogSize
    fileSize = info.fileSize
    epoch = info.epoch
    checkpointEpoch = info.checkpointEpoch
    needsRecovery = info.pendingRecovery != .clean
    switch info.pendingRecovery {
    case .clean:
      logState = "empty"
    case .rolledBack(let lines):
      logState = "interrupted commit: recovery will restore \(lines) lines"
    case .abandonedIncompleteCommit:
      logState = "interrupted commit that never reached the home copy: recovery will retire it"
    case .replayed(let commits, let lines):
      logState = "\(commits) committed batch\(commits == 1 ? "" : "es") (\(lines) lines) to replay"
    }
  }
}
