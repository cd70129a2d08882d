/// One of YCSB's core workloads: the operation mix and how keys are chosen.
public struct WorkloadSpec: Sendable, Hashable, CustomStringConvertible {
  public enum RequestDistribution: String, Sendable, Hashable {
    case zipfian
    case latest
    case uniform
  }

  public var name: String
  public var read: Double
  public var update: Double
  public var insert: Double
  public var scan: Double
  public var readModifyWrite: Double
  public var requestDistribution: RequestDistribution
  /// Scan lengths are uniform in 1 ... `maxScanLength`.
  public var maxScanLength = 100

  public var description: String { name }

  /// YCSB's workloads A-F, as their property files define them.
  public static let a = WorkloadSpec(name: "A", read: 0.5, update: 0.5, insert: 0, scan: 0, readModifyWrite: 0, requestDistribution: .zipfian)
  public static let b = WorkloadSpec(name: "B", read: 0.95, update: 0.05, insert: 0, scan: 0, readModifyWrite: 0, requestDistribution: .zipfian)
  public static let c = WorkloadSpec(name: "C", read: 1, update: 0, insert: 0, scan: 0, readModifyWrite: 0, requestDistribution: .zipfian)
  public static let d = WorkloadSpec(name: "D", read: 0.95, update: 0, insert: 0.05, scan: 0, readModifyWrite: 0, requestDistribution: .latest)
  public static let e = WorkloadSpec(name: "E", read: 0, update: 0, insert: 0.05, scan: 0.95, readModifyWrite: 0, requestDistribution: .zipfian)
  public static let f = WorkloadSpec(name: "F", read: 0.5, update: 0, insert: 0, scan: 0, readModifyWrite: 0.5, requestDistribution: .zipfian)
  public static let all: [WorkloadSpec] = [.a, .b, .c, .d, .e, .f]
}

/// What a client does next.
public enum Operation: Sendable, Equatable {
  /// Read every field of the record.
  case read(key: Int64)
  /// Overwrite one field.
  case update(key: Int64, field: Int)
  /// Insert a new record, every field.
  case insert(key: Int64)
  /// Read `length` records in key order from the record's key on.
  case scan(key: Int64, length: Int)
  /// Read every field, then overwrite one.
  case readModifyWrite(key: Int64, field: Int)
}

/// YCSB's CoreWorkload for one client: `records` records loaded (key numbers 0 ..< records), then
/// operations drawn as YCSB draws them. Key numbers become key names with `keyName(_:)`.
public struct CoreWorkload: Sendable {
  public static let fieldCount = 10
  public static let fieldLength = 100

  public let spec: WorkloadSpec
  public let records: Int64
  private var random: RandomSource
  private var zipfian: ScrambledZipfianGenerator?
  private var latest: SkewedLatestGenerator?
  /// The next key number to insert; every smaller one exists.
  public private(set) var nextInsert: Int64

  /// The generator for `operations` operations after loading `records` records.
  public init(spec: WorkloadSpec, records: Int64, operations: Int64, seed: UInt64) {
    self.spec = spec
    self.records = records
    random = RandomSource(seed: seed)
    nextInsert = records
    switch spec.requestDistribution {
    case .zipfian:
      // YCSB leaves room for the keys inserted during the run (twice the expected number).
      let expectedNewKeys = Int64(Double(operations) * spec.insert * 2)
      zipfian = ScrambledZipfianGenerator(itemCount: records + expectedNewKeys + 1)
    case .latest:
      latest = SkewedLatestGenerator(records: records)
    case .uniform:
      break
    }
  }

  /// YCSB's key name: "user" and the decimal of the hashed key number.
  public static func keyName(_ keyNumber: Int64) -> String {
    "user\(fnvHash64(keyNumber))"
  }

  /// The next operation.
  public mutating func next() -> Operation {
    var u = random.nextUnit() * (spec.read + spec.update + spec.insert + spec.scan + spec.readModifyWrite)
    if u < spec.read { return .read(key: chooseKey()) }
    u -= spec.read
    if u < spec.update { return .update(key: chooseKey(), field: chooseField()) }
    u -= spec.update
    if u < spec.insert {
      defer { nextInsert += 1 }
      return .insert(key: nextInsert)
    }
    u -= spec.insert
    if u < spec.scan { return .scan(key: chooseKey(), length: Int.random(in: 1...spec.maxScanLength, using: &random)) }
    return .readModifyWrite(key: chooseKey(), field: chooseField())
  }

  private mutating func chooseField() -> Int {
    Int.random(in: 0..<Self.fieldCount, using: &random)
  }

  /// A key number that exists: drawn again while it lies beyond the records inserted so far.
  private mutating func chooseKey() -> Int64 {
    let lastInserted = nextInsert - 1
    if var latest {
      defer { self.latest = latest }
      return latest.next(lastInserted: lastInserted, using: &random)
    }
    guard var zipfian else { return Int64.random(in: 0...lastInserted, using: &random) }
    defer { self.zipfian = zipfian }
    while true {
      let key = zipfian.next(using: &random)
      if key <= lastInserted { return key }
    }
  }
}
