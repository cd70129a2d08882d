import Foundation
import Testing
import YCSB

@Suite struct YCSBTests {
  /// Values from an independent implementation of YCSB's Java `fnvhash64`; key number 0 is the
  /// well-known first YCSB key, user6284781860667377211.
  @Test func fnvHashMatchesYCSB() {
    #expect(fnvHash64(0) == 6_284_781_860_667_377_211)
    #expect(fnvHash64(1) == 8_517_097_267_634_966_620)
    #expect(fnvHash64(42) == 55_488_592_825_689_361)
    #expect(fnvHash64(1_000_000) == 1_011_632_231_655_643_464)
    #expect(fnvHash64(-1) == 8_289_690_350_564_177_859)
    #expect(CoreWorkload.keyName(0) == "user6284781860667377211")
  }

  /// The analytic zipfian: P(rank i) = 1 / ((i + 1)^theta * zeta(n)).
  func analytic(_ n: Int, theta: Double = 0.99) -> [Double] {
    let weights = (1...n).map { 1 / pow(Double($0), theta) }
    let zeta = weights.reduce(0, +)
    return weights.map { $0 / zeta }
  }

  @Test func zipfianMatchesTheAnalyticDistribution() {
    let n = 1000, draws = 2_000_000
    var generator = ZipfianGenerator(items: Int64(n))
    var random = RandomSource(seed: 1)
    var counts = [Int](repeating: 0, count: n)
    for _ in 0..<draws { counts[Int(generator.next(using: &random))] += 1 }
    let expected = analytic(n)
    let observed = counts.map { Double($0) / Double(draws) }
    // Ranks 0 and 1 are exact by construction.
    for rank in 0...1 {
      #expect(abs(observed[rank] - expected[rank]) < 0.02 * expected[rank], "rank \(rank): \(observed[rank]) against \(expected[rank])")
    }
    // The rest is Gray et al.'s approximation, biased by up to about 1.5 points in a cumulative share for
    // this n: close in total, and in every cumulative share.
    let totalVariation = zip(observed, expected).map { abs($0 - $1) }.reduce(0, +) / 2
    #expect(totalVariation < 0.03, "total variation distance \(totalVariation)")
    for prefix in [10, 100, 500] {
      let seen = observed[..<prefix].reduce(0, +), wanted = expected[..<prefix].reduce(0, +)
      #expect(abs(seen - wanted) < 0.025, "first \(prefix) ranks: \(seen) against \(wanted)")
    }
  }

  @Test func zetaGrowsIncrementally() {
    let direct = ZipfianGenerator.zeta(from: 0, to: 5000, theta: 0.99, initial: 0)
    let stepped = ZipfianGenerator.zeta(from: 2000, to: 5000, theta: 0.99, initial: ZipfianGenerator.zeta(from: 0, to: 2000, theta: 0.99, initial: 0))
    #expect(abs(direct - stepped) < 1e-9)
    var generator = ZipfianGenerator(items: 2000)
    var random = RandomSource(seed: 2)
    _ = generator.next(itemCount: 5000, using: &random)
    #expect(abs(generator.zetaN - direct) < 1e-9)
    #expect(generator.countForZeta == 5000)
  }

  /// YCSB's `nextLong(itemcount)` for a count larger than the one it was built for: zeta over the new
  /// count, eta from the count it was built for, the rank scaled by the new count.
  @Test func aGrownCountDrawsAsYCSBDoes() {
    let theta = ZipfianGenerator.defaultTheta
    let zeta2 = ZipfianGenerator.zeta(from: 0, to: 2, theta: theta, initial: 0)
    let zeta5000 = ZipfianGenerator.zeta(from: 0, to: 5000, theta: theta, initial: 0)
    let eta = ZipfianGenerator.eta(items: 2000, theta: theta, zeta2: zeta2, zetaN: zeta5000)
    var generator = ZipfianGenerator(items: 2000)
    var random = RandomSource(seed: 7)
    var sameRandom = random
    var beyondTheFirstTwo = 0
    for _ in 0..<1000 {
      let rank = generator.next(itemCount: 5000, using: &random)
      let u = sameRandom.nextUnit()
      let expected: Int64
      if u * zeta5000 < 1 {
        expected = 0
      } else if u * zeta5000 < 1 + pow(0.5, theta) {
        expected = 1
      } else {
        expected = Int64(5000 * pow(eta * u - eta + 1, 1 / (1 - theta)))
        beyondTheFirstTwo += 1
      }
      #expect(rank == expected)
    }
    #expect(beyondTheFirstTwo > 500)
  }

  /// A smaller count than the one zeta was computed for changes nothing (YCSB recomputes only when
  /// `allowitemcountdecrease` is set, which it is not by default), and draws stay below the count.
  @Test func aSmallerCountKeepsZeta() {
    var generator = ZipfianGenerator(items: 2000)
    let zeta = generator.zetaN
    var random = RandomSource(seed: 8)
    for _ in 0..<10_000 {
      #expect(generator.next(itemCount: 100, using: &random) < 100)
    }
    #expect(generator.zetaN == zeta && generator.countForZeta == 2000)
  }

  /// YCSB's precomputed zeta for 10^10 items is what the formula gives (checked on the first 10^6 terms
  /// plus the integral tail), and the hottest scrambled key is hash(0) mod n with probability 1 / zeta.
  @Test func scrambledZipfianHasItsHotKeyWhereYCSBPutsIt() {
    let head = ZipfianGenerator.zeta(from: 0, to: 1_000_000, theta: 0.99, initial: 0)
    let tail = (pow(1e10, 0.01) - pow(1e6, 0.01)) / 0.01
    #expect(abs(head + tail - ScrambledZipfianGenerator.underlyingZeta) < 0.01)

    let n: Int64 = 100_000, draws = 1_000_000
    var generator = ScrambledZipfianGenerator(itemCount: n)
    var random = RandomSource(seed: 3)
    var counts: [Int64: Int] = [:]
    for _ in 0..<draws {
      let key = generator.next(using: &random)
      #expect(key >= 0 && key < n)
      counts[key, default: 0] += 1
    }
    let hottest = counts.max { $0.value < $1.value }!
    #expect(hottest.key == fnvHash64(0) % n)
    let share = Double(hottest.value) / Double(draws)
    #expect(abs(share - 1 / ScrambledZipfianGenerator.underlyingZeta) < 0.002, "hot key share \(share)")
  }

  @Test func latestFavorsTheNewestRecords() {
    var generator = SkewedLatestGenerator(records: 1000)
    var random = RandomSource(seed: 4)
    let last: Int64 = 999, draws = 500_000
    var counts = [Int](repeating: 0, count: 1000)
    for _ in 0..<draws {
      let key = generator.next(lastInserted: last, using: &random)
      #expect(key >= 1 && key <= last)
      counts[Int(key)] += 1
    }
    // Built for the count of its first draw, as YCSB's is: no zeta computed while operations run.
    #expect(generator.zipfian.countForZeta == last && generator.zipfian.items == last)
    // key = last - zipfian(last): the newest record has rank 0.
    let expected = analytic(999)
    for age in 0...1 {
      let observed = Double(counts[Int(last) - age]) / Double(draws)
      #expect(abs(observed - expected[age]) < 0.02 * expected[age], "age \(age): \(observed) against \(expected[age])")
    }
  }

  @Test(arguments: WorkloadSpec.all)
  func operationMixFollowsTheSpec(spec: WorkloadSpec) {
    let records: Int64 = 10_000, operations = 200_000
    var workload = CoreWorkload(spec: spec, records: records, operations: Int64(operations), seed: 5)
    var counts = (read: 0, update: 0, insert: 0, scan: 0, readModifyWrite: 0)
    var inserted = records
    for _ in 0..<operations {
      switch workload.next() {
      case .read(let key):
        counts.read += 1
        #expect(key >= 0 && key < inserted)
      case .update(let key, let field):
        counts.update += 1
        #expect(key >= 0 && key < inserted && (0..<CoreWorkload.fieldCount).contains(field))
      case .insert(let key):
        counts.insert += 1
        #expect(key == inserted)
        inserted += 1
      case .scan(let key, let length):
        counts.scan += 1
        #expect(key >= 0 && key < inserted && (1...100).contains(length))
      case .readModifyWrite(let key, let field):
        counts.readModifyWrite += 1
        #expect(key >= 0 && key < inserted && (0..<CoreWorkload.fieldCount).contains(field))
      }
    }
    func share(_ count: Int) -> Double { Double(count) / Double(operations) }
    #expect(abs(share(counts.read) - spec.read) < 0.005)
    #expect(abs(share(counts.update) - spec.update) < 0.005)
    #expect(abs(share(counts.insert) - spec.insert) < 0.005)
    #expect(abs(share(counts.scan) - spec.scan) < 0.005)
    #expect(abs(share(counts.readModifyWrite) - spec.readModifyWrite) < 0.005)
    #expect(workload.nextInsert == inserted)
  }

  @Test func theSameSeedGivesTheSameOperations() {
    var first = CoreWorkload(spec: .a, records: 1000, operations: 100, seed: 9)
    var second = CoreWorkload(spec: .a, records: 1000, operations: 100, seed: 9)
    for _ in 0..<100 { #expect(first.next() == second.next()) }
  }
}
