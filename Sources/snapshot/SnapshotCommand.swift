import ArgumentParser
import Foundation
import Snapshot
import SystemPackage

@main
struct SnapshotCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snapshot",
    abstract: "Create, inspect, verify and recover failure-atomic msync regions.",
    subcommands: [
      Create.self, Grow.self, Info.self, Verify.self, Recover.self, KeyValueCommand.self, SQL.self, Demo.self, Follow.self, Promote.self, CrashTest.self, CrashTestWorker.self,
      ReplicatedBankWorker.self,
    ]
  )

  static func main() {
    main(KeyValueCommand.inSubcommandOrder(Array(CommandLine.arguments.dropFirst())))
  }
}

/// Runs an operation, turning its error (a `SnapshotError`, a `ReplicationError`) into one line on
/// standard error and exit code 1.
func reportingErrors<T, Failure: Error>(_ body: () throws(Failure) -> T) throws -> T {
  do {
    return try body()
  } catch {
    printError("error: \(error)")
    throw ExitCode.failure
  }
}

func printError(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}
