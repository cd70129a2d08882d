import Foundation
import SystemPackage

/// Ends the process when one case of a long loop runs longer than a time limit: a hang would otherwise
/// stall the run with no report. It names the case on standard error and exits with
/// ``Watchdog/exitStatus``, which the crash-test's supervisor reports as a failure row. It also keeps
/// the current case's name in a file, ``Watchdog/caseFileName`` in the scratch folder, from which the
/// supervisor names the case a trap ended.
package final class Watchdog: @unchecked Sendable {
  /// The exit status of a process the watchdog ended.
  package static let exitStatus: Int32 = 86
  /// The file in the scratch folder that holds the name of the case being run.
  package static let caseFileName = "current-case"

  private let casePath: String
  private let caseFile: FileDescriptor?

  private let limit: TimeInterval
  private let lock = NSLock()
  // Guarded by `lock`.
  private var current: (name: String, started: Date)?
  private var stopped = false

  package init(limit: TimeInterval, directory: String) {
    self.limit = limit
    casePath = "\(directory)/\(Self.caseFileName)"
    caseFile = try? FileDescriptor.open(
      FilePath(casePath), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
    let thread = Thread { [self] in watch() }
    thread.name = "watchdog"
    thread.start()
  }

  /// Marks the start of a case; its name is what the failure row shows if it does not finish.
  package func begin(_ name: @autoclosure () -> String) {
    let name = name()
    lock.withLock { current = (name, Date()) }
    if let caseFile {
      _ = try? caseFile.resize(to: 0)
      _ = try? caseFile.writeAll(toAbsoluteOffset: 0, name.utf8)
    }
  }

  /// Stops watching and removes the case file; the watching thread ends within its polling interval.
  package func stop() {
    lock.withLock { stopped = true }
    try? caseFile?.close()
    unlink(casePath)
  }

  private func watch() {
    while true {
      Thread.sleep(forTimeInterval: min(0.5, limit / 4))
      let overdue: String? = lock.withLock {
        guard !stopped, let current, Date().timeIntervalSince(current.started) > limit else { return nil }
        return current.name
      }
      if lock.withLock({ stopped }) { return }
      if let overdue {
        FileHandle.standardError.write(Data("HANG: \(overdue) did not finish within \(Int(limit)) s\n".utf8))
        _exit(Self.exitStatus)
      }
    }
  }
}
