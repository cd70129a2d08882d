import ArgumentParser
import Snapshot
import SystemPackage

struct Verify: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check a region's header and log without changing it.",
    discussion: "Exits 0 when the header and every log record recovery would use are consistent; "
      + "otherwise prints one line saying why and exits 1.")

  @Argument(help: "The region file.")
  var path: String

  func run() throws {
    let info = try reportingErrors { () throws(SnapshotError) in try Region.inspect(at: FilePath(path)) }
    let state = info.pendingRecovery == .clean ? "log empty" : "needs recovery (\(InfoSummary(info).logState))"
    print("ok: \(path): epoch \(info.epoch), \(state)")
  }
}
