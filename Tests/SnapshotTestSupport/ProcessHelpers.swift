import Foundation

/// Runs a program and returns its exit status.
@discardableResult
package func runCommand(_ executable: String, _ arguments: [String]) -> Int32 {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  process.standardOutput = FileHandle.nullDevice
  process.standardError = FileHandle.nullDevice
  do {
    try process.run()
  } catch {
    return -1
  }
  process.waitUntilExit()
  return process.terminationStatus
}

/// The `snapshot` command built next to the test bundle.
package let snapshotExecutable: String = {
  let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
  while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("snapshot").path), directory.path != "/" {
    directory.deleteLastPathComponent()
  }
  return directory.appendingPathComponent("snapshot").path
}()

/// Runs the `snapshot` command, with `input` on its standard input, and collects what it printed.
package func runSnapshot(_ arguments: [String], input: String? = nil) throws -> (status: Int32, standardOutput: String, standardError: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: snapshotExecutable)
  process.arguments = arguments
  let output = Pipe()
  let error = Pipe()
  process.standardOutput = output
  process.standardError = error
  let inputPipe = Pipe()
  process.standardInput = inputPipe
  try process.run()
  inputPipe.fileHandleForWriting.write(Data((input ?? "").utf8))
  try inputPipe.fileHandleForWriting.close()
  let outputData = output.fileHandleForReading.readDataToEndOfFile()
  let errorData = error.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}
