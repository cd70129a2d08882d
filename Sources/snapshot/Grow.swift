import ArgumentParser
import Snapshot
import SystemPackage

struct Grow: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Grow a region to a new size, committed at once.",
    discussion: "The new bytes read as zeros. The grow is one commit: a crash leaves the old size or the new one. "
      + "A region with the undo journal, or of an older format, keeps its size.")

  @Argument(help: "The region file.")
  var path: String

  @Option(help: "The new data size: bytes, or with a K, M, G or T suffix (rounded up to 4 KiB); no smaller than the region.", transform: ByteCount.parse)
  var size: ByteCount

  func run() throws {
    let region = try reportingErrors { () throws(SnapshotError) in try Region.open(at: FilePath(path), maximumSize: size.bytes) }
    let old = region.size
    try reportingErrors { () throws(SnapshotError) in
      try region.grow(to: size.bytes)
      try region.msync()
      try region.close()
    }
    print(region.size == old ? "\(path): already \(old) bytes" : "grew \(path) from \(old) to \(region.size) bytes, epoch \(region.epoch)")
  }
}
