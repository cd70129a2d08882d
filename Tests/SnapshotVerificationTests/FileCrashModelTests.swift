import Testing
@testable import Snapshot
import SnapshotVerification

/// The crash model for files, outcome by outcome: a write after the last sync may be lost, persist in
/// part at 512-byte sectors, or (beyond the durable end of the file) leave zeros or garbage.
@Suite struct FileCrashModelTests {
  let initial = CrashImage(data: [UInt8](repeating: 1, count: 1024), log: [UInt8](repeating: 2, count: 512))

  @Test func unsyncedWriteMayBeLostOrPartial() {
    var model = FileCrashModel(initial: initial)
    model.apply(.fileWrite(file: .data, offset: 256, bytes: [UInt8](repeating: 9, count: 512)))
    let units = model.uncertainUnits
    #expect(units.count == 2, "the write touches sectors 0 and 1")
    #expect(units.allSatisfy { $0.outcomes == 1 }, "inside the file: written or not")
    #expect(model.image([:]).data == initial.data, "lost")
    let first = model.image([units[0].unit: 1]).data
    #expect(first[256..<512].allSatisfy { $0 == 9 } && first[512..<768].allSatisfy { $0 == 1 }, "first sector only")
    let both = model.image([units[0].unit: 1, units[1].unit: 1]).data
    #expect(both[256..<768].allSatisfy { $0 == 9 })
  }

  @Test func unsyncedAppendMayLeaveZerosOrGarbage() {
    var model = FileCrashModel(initial: initial)
    model.apply(.fileWrite(file: .log, offset: 512, bytes: [UInt8](repeating: 7, count: 100)))
    let units = model.uncertainUnits
    #expect(units.count == 1 && units[0].outcomes == 3)
    #expect(model.image([:]).log?.count == 512, "lost: the file keeps its size")
    #expect(model.image([units[0].unit: 1]).log?[512..<612].allSatisfy { $0 == 7 } == true)
    #expect(model.image([units[0].unit: 2]).log?[512..<612].allSatisfy { $0 == 0 } == true)
    let garbage = model.image([units[0].unit: 3]).log!
    #expect(garbage.count == 612 && garbage[512..<612].contains { $0 != 7 && $0 != 0 })
  }

  @Test func syncMakesWritesDurable() {
    var model = FileCrashModel(initial: initial)
    model.apply(.fileWrite(file: .data, offset: 0, bytes: [5, 5, 5]))
    model.apply(.fileWrite(file: .log, offset: 0, bytes: [6]))
    model.apply(.fileSync(file: .data))
    #expect(model.uncertainUnits.count == 1, "only the log write is still uncertain")
    #expect(model.image([:]).data[0..<3] == [5, 5, 5])
    model.apply(.processCrash)
    #expect(model.uncertainUnits.isEmpty, "a process crash loses nothing")
    #expect(model.image([:]).log?[0] == 6)
  }

  @Test func newFilesNeedADirectorySync() {
    var model = FileCrashModel(created: initial)
    #expect(model.uncertainUnits.map(\.unit) == [FileCrashModel.directoryUnit])
    #expect(!model.image([:]).filesPresent)
    #expect(model.image([FileCrashModel.directoryUnit: 1]).filesPresent)
    model.apply(.directorySync)
    #expect(model.uncertainUnits.isEmpty && model.image([:]).filesPresent)
  }
}
