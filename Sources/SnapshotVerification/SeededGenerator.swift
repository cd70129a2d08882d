import YCSB

/// A deterministic random number generator (SplitMix64), so that a failing seed can be replayed.
package typealias SeededGenerator = RandomSource
