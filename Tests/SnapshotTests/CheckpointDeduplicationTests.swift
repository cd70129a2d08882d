import Testing

@testable import Snapshot

@Suite struct CheckpointDeduplicationTests {
  /// A checkpoint that does not look writes every line it logged, which says nothing about repeats.
  private func skip(_ policy: inout CheckpointDeduplication, _ count: Int) {
    for _ in 0..<count {
      #expect(!policy.looks)
      policy.checkpointed(logged: 100, written: 100)
    }
    #expect(policy.looks)
  }

  @Test func lookingAndFindingFewRepeatsSkipsLongerEachTime() {
    var policy = CheckpointDeduplication()
    #expect(policy.looks)
    // 100 lines logged, 90 written: one in ten repeated, fewer than one in eight.
    for expected in [0, 1, 3, 7, 7] {
      policy.checkpointed(logged: 100, written: 90)
      #expect(policy.checkpointsUntilLook == expected)
      skip(&policy, expected)
    }
  }

  @Test func aLookThatFindsRepeatsKeepsLookingAndStartsOver() {
    var policy = CheckpointDeduplication()
    policy.checkpointed(logged: 100, written: 100)
    policy.checkpointed(logged: 100, written: 100)
    skip(&policy, 1)
    policy.checkpointed(logged: 100, written: 100)
    skip(&policy, 3)
    for _ in 0..<3 {
      // One line in eight repeated: not fewer than one in eight.
      policy.checkpointed(logged: 80, written: 70)
      #expect(policy.looks)
    }
    policy.checkpointed(logged: 80, written: 71)
    #expect(policy.looks)
    policy.checkpointed(logged: 80, written: 71)
    #expect(policy.checkpointsUntilLook == 1)
  }
}
