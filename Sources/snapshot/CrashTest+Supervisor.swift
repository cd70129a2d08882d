import ArgumentParser
import Foundation
import SnapshotVerification

/// The crash-test runs in a child process, so that a trap (a failed precondition, a bad access) or a
/// case the watchdog ends still gives a report: the supervisor relays the child's output, turns an
/// abnormal end into a failure row naming the part and the message, and removes the scratch folders
/// the child could not.
extension CrashTest {
  static func executable() throws -> String {
    try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
  }

  func supervise() throws {
    let scratchName = "snapshot-crash-test-\(getpid())"
    let folders = ["\(directory)/\(scratchName)", "\(diskDirectory)/\(scratchName)"]
    for path in folders {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    defer {
      for path in folders { try? FileManager.default.removeItem(atPath: path) }
    }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: try Self.executable())
    child.arguments = Array(CommandLine.arguments.dropFirst()) + ["--scratch-name", scratchName]
    let errors = Pipe()
    child.standardError = errors
    try child.run()
    var lines = LineReader(handle: errors.fileHandleForReading)
    var part = "its start"
    var messages: [String] = []
    var backtrace = false
    while let line = lines.next() {
      printError(line)
      if line.contains("Fatal error:") || line.hasPrefix("HANG:") || line.hasPrefix("*** Program crashed") {
        messages.append(line.trimmingCharacters(in: CharacterSet(charactersIn: "* ")))
        continue
      }
      backtrace = backtrace || line.hasPrefix("***")
      if !backtrace, !line.isEmpty { part = "'\(line.trimmingCharacters(in: .whitespaces))'" }
    }
    child.waitUntilExit()
    let status = child.terminationStatus
    if child.terminationReason == .exit, status != Watchdog.exitStatus {
      if status != 0 { throw ExitCode(status) }
      return
    }
    let end = child.terminationReason == .uncaughtSignal
      ? "was ended by signal \(status) (\(String(cString: strsignal(status))))"
      : "ended a case that ran over its time limit"
    let current = try? String(contentsOfFile: "\(folders[0])/\(Watchdog.caseFileName)", encoding: .utf8)
    print("")
    print("NOT MET:")
    print("- the run \(end) after \(part)\(current.map { ", in \($0)" } ?? "")"
      + (messages.isEmpty ? "" : ": " + messages.suffix(3).joined(separator: " / ")))
    throw ExitCode.failure
  }
}
