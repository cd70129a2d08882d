#!/usr/bin/env swift
// Source-level mutation testing: applies each mutant of Scripts/mutants.txt to a scratch copy of the
// committed tree (results are kept per version of Sources/), builds `snapshot` in release, and runs the bounded crash-test (without its run-time
// mutants, stopping at the first failure). A mutant is caught when the crash-test fails or runs over
// the time limit. A mutant of code the crash-test does not drive (replication) names the tests that
// must catch it instead (`% ARGUMENTS` of `swift test`, in a debug build); the unmutated tree must pass
// those too. Results go to a file in the scratch folder, one line per mutant, so an interrupted
// run resumes where it stopped.
//
//   Scripts/mutate.swift [--only ID,ID] [--scratch DIR] [--timeout SECONDS] [--commit REV] [--report]
//
// --commit tests (or, with --report, reports on) a commit other than HEAD.
//
// Takes about three minutes per mutant that is not caught early; too long for CI.
import Foundation

struct Mutant {
  var id: String
  var summary: String
  var file = ""
  var original: [String] = []
  var replacement: [String] = []
  var equivalentBecause: String?
  /// Arguments of `swift test` that must fail with the mutant, instead of the crash-test.
  var tests: [String]?
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("mutate: \(message)\n".utf8))
  exit(2)
}

func note(_ message: String) {
  FileHandle.standardError.write(Data("\(message)\n".utf8))
}

func catalogue(_ path: String) -> [Mutant] {
  guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
  var mutants: [Mutant] = []
  for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
    if line.hasPrefix("## ") {
      let header = line.dropFirst(3)
      guard let colon = header.firstIndex(of: ":") else { fail("no ':' in '\(line)'") }
      mutants.append(Mutant(id: String(header[..<colon]), summary: header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    } else if line.hasPrefix("#") || line.isEmpty {
      continue
    } else if mutants.isEmpty {
      fail("'\(line)' before the first mutant")
    } else if line.hasPrefix("@ ") {
      mutants[mutants.count - 1].file = String(line.dropFirst(2))
    } else if line.hasPrefix("- ") {
      mutants[mutants.count - 1].original.append(String(line.dropFirst(2)))
    } else if line == "+" || line.hasPrefix("+ ") {
      mutants[mutants.count - 1].replacement.append(String(line.dropFirst(2)))
    } else if line.hasPrefix("% ") {
      mutants[mutants.count - 1].tests = line.dropFirst(2).split(separator: " ").map(String.init)
    } else if line.hasPrefix("= ") {
      mutants[mutants.count - 1].equivalentBecause = String(line.dropFirst(2))
    } else {
      fail("cannot read '\(line)'")
    }
  }
  for mutant in mutants where mutant.file.isEmpty || mutant.original.isEmpty {
    fail("\(mutant.id) needs a file and a text to replace")
  }
  return mutants
}

@discardableResult
func run(_ arguments: [String], in directory: String? = nil, timeout: TimeInterval? = nil, output: String? = nil) -> (status: Int32, timedOut: Bool, text: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = arguments
  if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
  let file = output ?? NSTemporaryDirectory() + "mutate-\(getpid()).out"
  _ = FileManager.default.createFile(atPath: file, contents: nil)
  let handle = FileHandle(forWritingAtPath: file)!
  process.standardOutput = handle
  process.standardError = handle
  do { try process.run() } catch { fail("cannot run \(arguments[0]): \(error)") }
  var timedOut = false
  if let timeout {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning {
      if Date() > deadline {
        timedOut = true
        killTree(process.processIdentifier)
        break
      }
      Thread.sleep(forTimeInterval: 1)
    }
  }
  process.waitUntilExit()
  try? handle.close()
  let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
  return (process.terminationStatus, timedOut, text)
}

/// Kills a process and every process it started (the crash-test's worker and kill-loop children).
func killTree(_ pid: Int32) {
  let children = run(["pgrep", "-P", "\(pid)"]).text.split(separator: "\n").compactMap { Int32($0) }
  kill(pid, SIGKILL)
  for child in children { killTree(child) }
}

// Arguments.
var only: Set<String>?
var scratchRoot = NSTemporaryDirectory() + "snapshot-mutate"
var timeout: TimeInterval = 1_200
var reportOnly = false
var revision = "HEAD"
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
  switch argument {
  case "--only": only = Set((arguments.popFirst() ?? "").split(separator: ",").map(String.init))
  case "--scratch": scratchRoot = arguments.popFirst() ?? scratchRoot
  case "--timeout": timeout = TimeInterval(arguments.popFirst() ?? "") ?? timeout
  case "--report": reportOnly = true
  case "--commit": revision = arguments.popFirst() ?? revision
  default: fail("unknown argument \(argument); see the comment at the top of this script")
  }
}

let repository = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent().path
let mutants = catalogue("\(repository)/Scripts/mutants.txt")
if let only, let unknown = only.first(where: { id in !mutants.contains { $0.id == id } }) { fail("no mutant \(unknown)") }
// One commit throughout, even if HEAD moves while the run goes on.
let commit = run(["git", "rev-parse", "--short", revision], in: repository).text.trimmingCharacters(in: .whitespacesAndNewlines)
// Results stay valid while the code is the same: a change to the documentation keeps them.
let sources = run(["git", "rev-parse", "--short", "\(commit):Sources"], in: repository).text.trimmingCharacters(in: .whitespacesAndNewlines)
let scratch = "\(scratchRoot)/\(sources)"
let tree = "\(scratch)/tree"
let resultsPath = "\(scratch)/results.tsv"

// Results so far: ID, verdict (caught, NOT CAUGHT, does not compile), detail.
var results: [String: (verdict: String, detail: String)] = [:]
for line in ((try? String(contentsOfFile: resultsPath, encoding: .utf8)) ?? "").split(separator: "\n") {
  let fields = line.split(separator: "\t", maxSplits: 2).map(String.init)
  if fields.count == 3 { results[fields[0]] = (fields[1], fields[2]) }
}
func record(_ id: String, _ verdict: String, _ detail: String) {
  results[id] = (verdict, detail)
  let line = "\(id)\t\(verdict)\t\(detail.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " "))\n"
  if let handle = FileHandle(forWritingAtPath: resultsPath) {
    handle.seekToEndOfFile()
    handle.write(Data(line.utf8))
    try? handle.close()
  } else {
    _ = FileManager.default.createFile(atPath: resultsPath, contents: Data(line.utf8))
  }
}

func report() {
  let counted = mutants.filter { $0.equivalentBecause == nil }
  let caught = counted.filter { results[$0.id]?.verdict == "caught" }
  let compiled = counted.filter { results[$0.id] != nil && results[$0.id]?.verdict != "does not compile" }
  print("### Source-level mutants: \(caught.count) of \(compiled.count) caught (Sources tree \(sources), commit \(commit))")
  print("")
  print("\(mutants.count) in the catalogue, \(mutants.count - counted.count) argued equivalent and not counted, "
    + "\(counted.count - compiled.count) not run or not compiling.")
  print("")
  print("| mutant | bug | verdict | first failure |")
  print("|---|---|---|---|")
  for mutant in mutants {
    let result = results[mutant.id]
    let verdict = mutant.equivalentBecause.map { "equivalent: \($0)" + (result.map { " (run: \($0.verdict))" } ?? "") }
      ?? result?.verdict ?? "not run"
    let detail = (result?.detail ?? "").prefix(200).replacingOccurrences(of: "|", with: "/")
    print("| \(mutant.id) | \(mutant.summary) | \(verdict == "NOT CAUGHT" ? "**NOT CAUGHT**" : verdict) | \(detail) |")
  }
}

if reportOnly {
  report()
  exit(0)
}

// The scratch tree: the committed files, built once; each mutant rebuilds what its file touches.
if !FileManager.default.fileExists(atPath: "\(tree)/Package.swift") {
  try? FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
  let archive = run(["sh", "-c", "git archive \(commit) | tar -x -C '\(tree)'"], in: repository)
  guard archive.status == 0 else { fail("cannot copy the tree: \(archive.text)") }
}

func pristine(_ file: String) -> String {
  let shown = run(["git", "show", "\(commit):\(file)"], in: repository)
  guard shown.status == 0 else { fail("no \(file) in commit \(commit)") }
  return shown.text
}

let crashTest = [
  "\(tree)/.build/release/snapshot", "crash-test", "--only", "simulator,kills,fuzz,store-fuzz", "--stop-at-first-failure",
]

func buildAndTest(_ label: String, tests: [String]? = nil) -> (verdict: String, detail: String) {
  if let tests { return buildAndRunTests(label, tests) }
  let build = run(["swift", "build", "-c", "release", "--product", "snapshot"], in: tree)
  if build.status != 0 {
    let error = build.text.split(separator: "\n").first { $0.contains("error:") } ?? "the build failed"
    return ("does not compile", String(error))
  }
  let started = Date()
  let test = run(crashTest, in: tree, timeout: timeout, output: "\(scratch)/\(label).out")
  let seconds = Int(Date().timeIntervalSince(started))
  if test.timedOut { return ("caught", "the crash-test ran over \(Int(timeout)) s (a hang)") }
  if test.status == 0 { return ("NOT CAUGHT", "the crash-test passed in \(seconds) s") }
  let lines = test.text.split(separator: "\n").map(String.init)
  let failure = lines.firstIndex(of: "NOT MET:").flatMap { lines.indices.contains($0 + 1) ? lines[$0 + 1] : nil }
  return ("caught", "\(failure ?? "exit status \(test.status)") (\(seconds) s)")
}

/// A mutant with tests of its own: a debug build of the tests, then `swift test` with its arguments.
func buildAndRunTests(_ label: String, _ tests: [String]) -> (verdict: String, detail: String) {
  let build = run(["swift", "build", "--build-tests"], in: tree)
  if build.status != 0 {
    let error = build.text.split(separator: "\n").first { $0.contains("error:") } ?? "the build failed"
    return ("does not compile", String(error))
  }
  let started = Date()
  let test = run(["swift", "test", "--skip-build"] + tests, in: tree, timeout: timeout, output: "\(scratch)/\(label).out")
  let seconds = Int(Date().timeIntervalSince(started))
  if test.timedOut { return ("caught", "the tests ran over \(Int(timeout)) s (a hang)") }
  if test.status == 0 { return ("NOT CAUGHT", "the tests passed in \(seconds) s") }
  let failure = test.text.split(separator: "\n").first { $0.contains(" error: ") }.map(String.init)
  return ("caught", "\(failure ?? "exit status \(test.status)") (\(seconds) s)")
}

let selected = mutants.filter { only?.contains($0.id) ?? true }
if results["baseline"] == nil, selected.contains(where: { $0.tests == nil }) {
  note("baseline: the unmutated tree must pass")
  let baseline = buildAndTest("baseline")
  guard baseline.verdict == "NOT CAUGHT" else { fail("the unmutated tree does not pass the crash-test: \(baseline.detail)") }
  record("baseline", "passes", baseline.detail)
}

for tests in Set(selected.compactMap(\.tests)) {
  let label = "baseline " + tests.joined(separator: " ")
  guard results[label] == nil else { continue }
  note("\(label): the unmutated tree must pass")
  let baseline = buildAndTest(label.replacingOccurrences(of: " ", with: "_"), tests: tests)
  guard baseline.verdict == "NOT CAUGHT" else { fail("the unmutated tree does not pass \(label): \(baseline.detail)") }
  record(label, "passes", baseline.detail)
}
for (index, mutant) in selected.enumerated() where results[mutant.id] == nil {
  note("[\(index + 1)/\(selected.count)] \(mutant.id): \(mutant.summary)")
  let source = pristine(mutant.file)
  let original = mutant.original.joined(separator: "\n")
  let occurrences = source.components(separatedBy: original).count - 1
  guard occurrences == 1 else { fail("\(mutant.id): its text occurs \(occurrences) times in \(mutant.file); update the catalogue") }
  let path = "\(tree)/\(mutant.file)"
  do {
    try source.replacingOccurrences(of: original, with: mutant.replacement.joined(separator: "\n")).write(toFile: path, atomically: true, encoding: .utf8)
  } catch {
    fail("cannot write \(path): \(error)")
  }
  let outcome = buildAndTest(mutant.id, tests: mutant.tests)
  try? source.write(toFile: path, atomically: true, encoding: .utf8)
  record(mutant.id, outcome.verdict, outcome.detail)
  note("  \(outcome.verdict): \(outcome.detail)")
}
report()
