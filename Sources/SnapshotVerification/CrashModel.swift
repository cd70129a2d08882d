import Foundation
import Snapshot
import SystemPackage

/// What a crash leaves of a region: its data file, its log file (on the file medium), and whether the
/// files' directory entries survived.
package struct CrashImage: Hashable, Sendable {
  package var data: [UInt8]
  package var log: [UInt8]?
  package var filesPresent = true

  package init(data: [UInt8], log: [UInt8]? = nil, filesPresent: Bool = true) {
    self.data = data
    self.log = log
    self.filesPresent = filesPresent
  }

  /// Writes the image where a region at `path` would be; removes the files when they did not survive.
  package func write(to path: FilePath) throws {
    let logPath = path.string + "-log"
    try? FileManager.default.removeItem(atPath: path.string)
    try? FileManager.default.removeItem(atPath: logPath)
    guard filesPresent else { return }
    try Data(data).write(to: URL(fileURLWithPath: path.string))
    if let log { try Data(log).write(to: URL(fileURLWithPath: logPath)) }
  }

  /// Reads the files of the region at `path`.
  static func read(from path: FilePath, backing: Region.Backing) throws -> CrashImage {
    let data = Array(try Data(contentsOf: URL(fileURLWithPath: path.string)))
    let log = backing == .file ? Array(try Data(contentsOf: URL(fileURLWithPath: path.string + "-log"))) : nil
    return CrashImage(data: data, log: log)
  }
}

/// A crash model: replays a trace and says what the medium may hold if the machine crashed now.
///
/// After the events so far, some units of the medium are uncertain. Each may be left as it was durably
/// (outcome 0) or take one of `outcomes` other contents; outcome 1 is always the one the run intended
/// (the last value stored, the write as issued). An image chooses an outcome for some units.
package protocol CrashModel {
  init(initial: CrashImage)
  mutating func apply(_ event: TraceEvent)
  var uncertainUnits: [(unit: Int, outcomes: Int)] { get }
  /// The image if each unit in `choice` takes the chosen outcome and every other unit none.
  func image(_ choice: [Int: Int]) -> CrashImage
  /// Whether a crash just before `event` must be explored.
  static func isCrashPoint(_ event: TraceEvent) -> Bool
  /// Opens (recovers) the region at `path` with a tracing medium of this model's kind (on persistent
  /// memory: emulated CXL memory if `emulatingCXL`, writing lines back with `flushInstruction`).
  static func open(
    at path: FilePath, trace: Trace, faults: Fault, emulatingCXL: Bool, flushInstruction: CacheLineFlushInstruction
  ) throws -> Region
}
