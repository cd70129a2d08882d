import ArgumentParser
import Snapshot
import SystemPackage

struct Recover: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Recover a region after a crash (opening it does the same) and retire its log.")

  @Argument(help: "The region file.")
  var path: String

  func run() throws {
    let region = try reportingErrors { () throws(SnapshotError) in try Region.open(at: FilePath(path)) }
    print("\(path): \(region.recovery)")
    try reportingErrors { () throws(SnapshotError) in try region.close() }
  }
}
