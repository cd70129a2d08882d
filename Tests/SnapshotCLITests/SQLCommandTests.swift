import Foundation
import SnapshotTestSupport
import Testing

/// `snapshot sql`, run as a user would.
@Suite struct SQLCommandTests {
  @Test func createsQueriesAndReadsAScriptFromStandardInput() throws {
    let directory = TestDirectory()
    let path = directory.file("app.db").string
    let created = try runSnapshot(["sql", "--create", path, "CREATE TABLE t(x, y); INSERT INTO t VALUES (1, 'a'), (2, NULL); SELECT * FROM t"])
    #expect(created.status == 0, "\(created.standardError)")
    #expect(created.standardOutput == "1|a\n2|\n")
    let script = try runSnapshot(["sql", path, "--header"], input: "SELECT count(*) AS n\n  FROM t;\nSELECT y FROM t WHERE x = 1")
    #expect(script.status == 0, "\(script.standardError)")
    #expect(script.standardOutput == "n\n2\ny\na\n")
    // The database is a region: the region commands see it.
    let info = try runSnapshot(["info", path])
    #expect(info.standardOutput.contains("journal:     redo"))
  }

  @Test func refusalsSayWhatToDo() throws {
    let directory = TestDirectory()
    let path = directory.file("app.db").string
    let missing = try runSnapshot(["sql", path, "SELECT 1"])
    #expect(missing.status == 1)
    #expect(missing.standardError.contains("no such database; add --create"))
    #expect(try runSnapshot(["sql", "--create", path, "CREATE TABLE t(x)"]).status == 0)
    let wal = try runSnapshot(["sql", path, "PRAGMA journal_mode = WAL"])
    #expect(wal.status == 1)
    #expect(wal.standardError.contains("does not support WAL"))
    let script = try runSnapshot(["sql", path], input: "INSERT INTO t VALUES (1);\nSELECT * FROM nope;\nINSERT INTO t VALUES (2);\n")
    #expect(script.status == 1)
    #expect(script.standardError.contains("no such table: nope"))
    // The statement before the failing one committed; the one after never ran.
    #expect(try runSnapshot(["sql", path, "SELECT count(*) FROM t"]).standardOutput == "1\n")
  }
}
