#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// YCSB's zipfian generator (Gray et al., "Quickly generating billion-record synthetic databases"):
/// item 0 is the most popular, item i drawn with probability about 1 / ((i + 1)^theta * zeta(n)).
/// Ranks 0 and 1 are exact; the rest follow the paper's closed-form approximation, as YCSB's do.
public struct ZipfianGenerator: Sendable {
  /// YCSB's default skew.
  public static let defaultTheta = 0.99

  public let theta: Double
  private let alpha: Double
  private let zeta2: Double
  /// The item count the generator was built for. YCSB's `eta` keeps using it when the count grows.
  public let items: Int64
  /// The item count `zetaN` was computed for; it grows with the item count (workload D).
  public private(set) var countForZeta: Int64
  public private(set) var zetaN: Double
  private var eta: Double

  /// A generator over `items` items, computing zeta(items), or taking it when known (`zetaN`).
  public init(items: Int64, theta: Double = defaultTheta, zetaN: Double? = nil) {
    precondition(items >= 1, "a zipfian needs at least one item")
    self.theta = theta
    self.items = items
    countForZeta = items
    alpha = 1 / (1 - theta)
    zeta2 = Self.zeta(from: 0, to: 2, theta: theta, initial: 0)
    self.zetaN = zetaN ?? Self.zeta(from: 0, to: items, theta: theta, initial: 0)
    eta = Self.eta(items: items, theta: theta, zeta2: zeta2, zetaN: self.zetaN)
  }

  /// zeta(to) given zeta(from) = `initial`: the sum of 1 / i^theta for i in from + 1 ... to.
  public static func zeta(from: Int64, to: Int64, theta: Double, initial: Double) -> Double {
    var sum = initial
    var index = from
    while index < to {
      index += 1
      sum += 1 / pow(Double(index), theta)
    }
    return sum
  }

  /// YCSB's eta, which workload D's draws depend on.
  public static func eta(items: Int64, theta: Double, zeta2: Double, zetaN: Double) -> Double {
    (1 - pow(2 / Double(items), 1 - theta)) / (1 - zeta2 / zetaN)
  }

  /// The next rank in 0 ..< `itemCount`, as YCSB's `nextLong(itemcount)` draws it: a larger count than
  /// any before extends zeta incrementally and recomputes eta, from zeta and the count the generator
  /// was built for (not the new count); a smaller count changes neither (YCSB's
  /// `allowitemcountdecrease` is off by default).
  public mutating func next(itemCount: Int64? = nil, using random: inout RandomSource) -> Int64 {
    let count = itemCount ?? items
    if count > countForZeta {
      zetaN = Self.zeta(from: countForZeta, to: count, theta: theta, initial: zetaN)
      countForZeta = count
      eta = Self.eta(items: items, theta: theta, zeta2: zeta2, zetaN: zetaN)
    }
    let u = random.nextUnit()
    let uz = u * zetaN
    if uz < 1 { return 0 }
    if uz < 1 + pow(0.5, theta) { return 1 }
    return min(count - 1, Int64(Double(count) * pow(eta * u - eta + 1, alpha)))
  }
}

/// YCSB's "zipfian" request distribution: a zipfian over 10^10 items, hashed, modulo the item count,
/// so that the popular keys are spread over the key space instead of being the first ones.
public struct ScrambledZipfianGenerator: Sendable {
  /// YCSB's constants: the item count of the underlying zipfian and its precomputed zeta.
  public static let underlyingItems: Int64 = 10_000_000_000
  public static let underlyingZeta = 26.46902820178302

  public let itemCount: Int64
  private var zipfian: ZipfianGenerator

  public init(itemCount: Int64) {
    precondition(itemCount >= 1)
    self.itemCount = itemCount
    zipfian = ZipfianGenerator(items: Self.underlyingItems + 1, zetaN: Self.underlyingZeta)
  }

  public mutating func next(using random: inout RandomSource) -> Int64 {
    fnvHash64(zipfian.next(using: &random)) % itemCount
  }
}

/// YCSB's "latest" distribution (workload D): the most recently inserted record is the most popular,
/// then the one before, zipfian over the records inserted so far.
public struct SkewedLatestGenerator: Sendable {
  /// The zipfian over the records' ages.
  public private(set) var zipfian: ZipfianGenerator

  /// Built, as YCSB builds it, for the last key loaded (`records - 1`), the count of the first draw,
  /// so that no zeta is computed while operations run.
  public init(records: Int64) {
    zipfian = ZipfianGenerator(items: max(records - 1, 1))
  }

  /// A key number in 1 ... `lastInserted` (as YCSB's: `last - zipfian(last)`), or 0 when that is the
  /// only record.
  public mutating func next(lastInserted: Int64, using random: inout RandomSource) -> Int64 {
    guard lastInserted >= 1 else { return 0 }
    return lastInserted - zipfian.next(itemCount: lastInserted, using: &random)
  }
}
