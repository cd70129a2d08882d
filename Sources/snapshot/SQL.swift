import ArgumentParser
import Foundation
import SnapshotSQLite

struct SQL: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sql",
    abstract: "Run SQL on a SQLite database kept in a region (the snapshot VFS).",
    discussion: "With SQL as an argument, runs it and prints the rows, columns separated by |, NULL as nothing. "
      + "Without, reads statements from standard input, each run once it is complete (a prompt when that is a terminal). "
      + "Each statement outside BEGIN ... COMMIT commits on its own, as one atomic msync. "
      + "Other SQLite programs open the same database by the URI file:PATH?vfs=snapshot.")

  @Argument(help: "The database (a region).")
  var path: String

  @Argument(help: "SQL to run; several statements separated by ; are run in turn.")
  var sql: String?

  @Flag(help: "Create the database if it does not exist (a region of 1 MiB that grows with it).")
  var create = false

  @Option(help: "For a new database: pm or file (default: by the directory's file system).")
  var backing: String?

  @Flag(help: "Print the column names before the rows of each statement.")
  var header = false

  func run() throws {
    if !create, !FileManager.default.fileExists(atPath: path) {
      printError("error: \(path): no such database; add --create to make one")
      throw ExitCode.failure
    }
    let database = try reportingSQLErrors { () throws(SQLiteError) in
      try SQLiteConnection(path: path, create: create, parameters: backing.map { ["backing": $0] } ?? [:])
    }
    if let sql {
      try reportingSQLErrors { () throws(SQLiteError) in try execute(sql, on: database) }
      return
    }
    let interactive = isatty(STDIN_FILENO) != 0
    var pending = ""
    while true {
      if interactive { print(pending.isEmpty ? "sql> " : "...> ", terminator: "") }
      guard let line = readLine() else { break }
      pending += line + "\n"
      guard SQLiteConnection.isComplete(pending) else { continue }
      do throws(SQLiteError) {
        try execute(pending, on: database)
      } catch {
        printError("error: \(error.message)")
        if !interactive { throw ExitCode.failure }
      }
      pending = ""
    }
    // A last statement without its semicolon still runs.
    if !pending.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
      try reportingSQLErrors { () throws(SQLiteError) in try execute(pending, on: database) }
    }
  }

  private func execute(_ sql: String, on database: SQLiteConnection) throws(SQLiteError) {
    var printedHeader: [String]?
    try database.run(script: sql) { columns, values in
      if header, printedHeader != columns {
        print(columns.joined(separator: "|"))
        printedHeader = columns
      }
      print(values.map(\.shellText).joined(separator: "|"))
    }
  }

  private func reportingSQLErrors<T>(_ body: () throws(SQLiteError) -> T) throws -> T {
    do {
      return try body()
    } catch {
      printError("error: \(error.message)")
      throw ExitCode.failure
    }
  }
}

extension SQLiteValue {
  /// As SQLite's shell prints it in list mode.
  var shellText: String {
    switch self {
    case .null: ""
    case .integer(let value): String(value)
    case .real(let value): String(value)
    case .text(let value): value
    case .blob(let bytes): "x'" + bytes.map { String($0, radix: 16).leftPadded() }.joined() + "'"
    }
  }
}

extension String {
  fileprivate func leftPadded() -> String { count < 2 ? "0" + self : self }
}
