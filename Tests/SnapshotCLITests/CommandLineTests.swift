import Foundation
import Testing
import SnapshotKV
@testable import Snapshot
import SnapshotTestSupport

/// The `snapshot` command, run as a user would.
@Suite struct CommandLineTests {
  @Test func createInfoVerifyRecover() throws {
    let directory = TestDirectory()
    let path = directory.file("cli.region").string
    let created = try runSnapshot(["create", path, "--size", "1M", "--journal", "undo"])
    #expect(created.status == 0, "\(created.standardError)")
    #expect(created.standardOutput.contains("1048576 bytes"))

    let info = try runSnapshot(["info", path])
    #expect(info.status == 0)
    #expect(info.standardOutput.contains("journal:     undo"))
    #expect(info.standardOutput.contains("log state:   empty"))

    let json = try runSnapshot(["info", path, "--json"])
    let decoded = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
    #expect(decoded?["size"] as? Int == 1 << 20)
    #expect(decoded?["epoch"] as? Int == 0)
    #expect(decoded?["medium"] as? String == "pm")
    #expect(decoded?["formatVersion"] as? Int == 4)
    #expect(decoded?["needsRecovery"] as? Bool == false)

    let verified = try runSnapshot(["verify", path])
    #expect(verified.status == 0)
    #expect(verified.standardOutput.hasPrefix("ok:"))

    let recovered = try runSnapshot(["recover", path])
    #expect(recovered.status == 0)
    #expect(recovered.standardOutput.contains("clean"))
  }

  @Test func verifyFailsWithOneLineReason() throws {
    let directory = TestDirectory()
    let path = directory.file("cli.region")
    try Region.create(at: path, size: 4096).close()
    var bytes = try Data(contentsOf: path)
    bytes[30] ^= 1
    try bytes.write(to: path)
    let verified = try runSnapshot(["verify", path.string])
    #expect(verified.status == 1)
    let lines = verified.standardError.split(separator: "\n")
    #expect(lines.count == 1)
    #expect(lines.first?.contains("header corrupt") == true)
  }

  @Test func badArgumentsAreRefused() throws {
    let directory = TestDirectory()
    #expect(try runSnapshot(["create", directory.file("x").string, "--size", "lots"]).status != 0)
    #expect(try runSnapshot(["info", directory.file("missing").string]).standardError.contains("no such file"))
  }

  /// Each refusal names its cause: the missing directory (not the log file auto's choice would
  /// make), the size that is not one, the creation option an existing store cannot honour.
  @Test func refusalsSayWhy() throws {
    let directory = TestDirectory()
    let missing = try runSnapshot(["create", directory.file("nowhere/r").string, "--size", "1M"])
    #expect(missing.status == 1)
    #expect(missing.standardError.contains("\(directory.path)/nowhere: no such directory"), "\(missing.standardError)")
    let size = try runSnapshot(["create", directory.file("r").string, "--size", "1P"])
    #expect(size.status != 0)
    #expect(size.standardError.contains("'1P' is not a byte count"), "\(size.standardError)")
    let store = directory.file("s.kv").string
    #expect(try runSnapshot(["kv", store, "put", "a", "b", "--create", "--size", "1M", "--index", "hashed"]).status == 0)
    let conflict = try runSnapshot(["kv", store, "get", "a", "--index", "ordered"])
    #expect(conflict.status == 1)
    #expect(conflict.standardError.contains("--index ordered (it is hashed) applies only when creating"), "\(conflict.standardError)")
    let agreeing = try runSnapshot(["kv", store, "get", "a", "--index", "hashed", "--size", "1M"])
    #expect(agreeing.status == 0 && agreeing.standardOutput == "b\n")
  }

  /// A trap inside the crash-test still ends in a report naming the part, and leaves no scratch.
  @Test func crashTestReportsATrap() throws {
    let directory = TestDirectory()
    let disk = TestDirectory(onDisk: true)
    let run = try runSnapshot([
      "crash-test", "--only", "store-fuzz", "--trap-in", "store-fuzz", "--directory", directory.path, "--disk-directory", disk.path,
    ])
    #expect(run.status == 1)
    #expect(run.standardOutput.contains("NOT MET:\n- the run was ended by signal"), "\(run.standardOutput)")
    #expect(run.standardOutput.contains("after 'store fuzzing'"))
    for folder in [directory.path, disk.path] {
      #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
  }

  @Test func demoRecoversEveryKill() throws {
    let demo = try runSnapshot(["demo", "--kills", "3"])
    #expect(demo.status == 0, "\(demo.standardOutput)\(demo.standardError)")
    #expect(demo.standardOutput.contains("every reopen found one complete commit"))
  }
}

@Suite struct KeyValueCommandLineTests {
  /// `snapshot create` then `kv --create`: the store goes into the region nothing was committed to;
  /// a region that holds data is never formatted.
  @Test func createMakesAStoreInAnEmptyRegion() throws {
    let directory = TestDirectory()
    let path = directory.file("region").string
    #expect(try runSnapshot(["create", path, "--size", "4M"]).status == 0)
    let refused = try runSnapshot(["kv", "put", path, "a", "1"])
    #expect(refused.status != 0)
    #expect(refused.standardError.contains("--create"))
    #expect(try runSnapshot(["kv", "put", path, "a", "1", "--create"]).standardOutput == "ok\n")
    #expect(try runSnapshot(["kv", "put", path, "b", "2", "--create"]).standardOutput == "ok\n")
    #expect(try runSnapshot(["kv", "get", path, "a"]).standardOutput == "1\n")

    let written = directory.file("written")
    let region = try Region.create(at: written, size: 1 << 20)
    region.store(UInt64(7), at: 0)
    try region.msync()
    try region.close()
    let kept = try runSnapshot(["kv", "put", written.string, "a", "1", "--create"])
    #expect(kept.status != 0)
    #expect(try Region.open(at: written).load(UInt64.self, at: 0) == 7)
  }

  @Test func growAndStoreStatistics() throws {
    let directory = TestDirectory()
    let path = directory.file("region").string
    #expect(try runSnapshot(["create", path, "--size", "64K"]).status == 0)
    let grown = try runSnapshot(["grow", path, "--size", "1M"])
    #expect(grown.standardOutput == "grew \(path) from 65536 to 1048576 bytes, epoch 1\n")
    let json = try runSnapshot(["info", path, "--json"])
    let decoded = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
    #expect(decoded?["size"] as? Int == 1 << 20)
    #expect(try runSnapshot(["grow", path, "--size", "64K"]).standardOutput == "\(path): already 1048576 bytes\n")

    let store = directory.file("store").string
    #expect(try runSnapshot(["kv", "put", store, "a", "1", "--create"]).standardOutput == "ok\n")
    let stats = try runSnapshot(["kv", "stats", store]).standardOutput
    #expect(stats.contains("size: 1M (grows up to "))
    #expect(stats.contains("files: "))
  }

  @Test func singleCommandsAndBatch() throws {
    let directory = TestDirectory()
    let path = directory.file("store").string
    #expect(try runSnapshot(["kv", path, "put", "alpha", "1", "--create", "--size", "4M"]).standardOutput == "ok\n")
    #expect(try runSnapshot(["kv", path, "get", "alpha"]).standardOutput == "1\n")
    #expect(try runSnapshot(["kv", path, "get", "beta"]).standardOutput == "(nil)\n")
    let batch = try runSnapshot(["kv", path, "batch"], input: """
      put beta two words
      get beta
      scan a 5
      frobnicate
      del alpha
      del alpha
      commit
      put gamma 3

      """)
    #expect(batch.standardOutput == """
      ok
      two words
      alpha 1
      beta two words
      end
      error: unknown command frobnicate (put, get, del, scan, commit, stats, check)
      ok
      (nil)
      committed 3
      ok

      """)
    #expect(try runSnapshot(["kv", path, "get", "gamma"]).standardOutput == "(nil)\n", "not committed, so discarded")
    #expect(try runSnapshot(["kv", path, "get", "beta"]).standardOutput == "two words\n")
    let stats = try runSnapshot(["kv", path, "stats"])
    #expect(stats.standardOutput.contains("keys: 1"))
    #expect(try runSnapshot(["kv", directory.file("missing").string, "get", "x"]).status == 1)
  }

  /// The subcommand form, `kv ACTION PATH ...`, on the same store as the older `kv PATH ACTION ...`.
  @Test func subcommands() throws {
    let directory = TestDirectory()
    let path = directory.file("store").string
    #expect(try runSnapshot(["kv", "put", path, "alpha", "1", "--create", "--size", "4M"]).standardOutput == "ok\n")
    #expect(try runSnapshot(["kv", "put", path, "beta", "2"]).standardOutput == "ok\n")
    #expect(try runSnapshot(["kv", path, "get", "beta"]).standardOutput == "2\n")
    #expect(try runSnapshot(["kv", "get", path, "alpha"]).standardOutput == "1\n")
    #expect(try runSnapshot(["kv", "scan", path, "a", "5"]).standardOutput == "alpha 1\nbeta 2\nend\n")
    #expect(try runSnapshot(["kv", "del", path, "alpha"]).standardOutput == "ok\n")
    #expect(try runSnapshot(["kv", "get", path, "alpha"]).standardOutput == "(nil)\n")
    #expect(try runSnapshot(["kv", "check", path]).standardOutput.hasPrefix("ok: 1 keys"))
    #expect(try runSnapshot(["kv", "stats", path]).standardOutput.contains("keys: 1"))
    #expect(try runSnapshot(["kv", "batch", path], input: "put gamma 3\ncommit\nget gamma\n").standardOutput.hasSuffix("3\n"))
    let missing = try runSnapshot(["kv", "get", path])
    #expect(missing.status != 0 && missing.standardError.contains("key"), "a missing argument is named")
  }

  /// `check` walks the store; a corrupted structural word is reported by it and by a lookup, as an
  /// error naming its offset, not as a trap.
  @Test func checkFindsACorruptedStore() throws {
    let directory = TestDirectory()
    let path = directory.file("store")
    let store = try SnapshotKV.create(at: path, size: 1 << 20)
    for key in 0..<200 { try store.put("key-\(key)", "value \(key)") }
    let treeRoot = Int(store.region.load(UInt64.self, at: RegionBackend(region: store.region).rootOffset + 16))
    try store.close()
    let checked = try runSnapshot(["kv", path.string, "check"])
    #expect(checked.status == 0)
    #expect(checked.standardOutput.hasPrefix("ok: 200 keys"))

    // The tree's height, in the home copy of the closed region (its data area starts at 4096).
    var bytes = try Data(contentsOf: path)
    bytes.replaceSubrange(4096 + treeRoot + 24..<4096 + treeRoot + 32, with: repeatElement(0xFF, count: 8))
    try bytes.write(to: path)
    for command in [["check"], ["get", "key-7"], ["put", "key-7", "x"], ["del", "key-7"], ["scan", "a", "3"]] {
      let result = try runSnapshot(["kv", path.string] + command)
      #expect(result.status == 1, "\(command)")
      #expect(result.standardError.contains("store corrupt at offset \(treeRoot + 24): B+tree height"), "\(command): \(result.standardError)")
    }
  }
}
