import Testing

@testable import Snapshot

@Suite struct CheckpointDeduplicationTests {
  @Test func fewRepeatsSkipTheNextCheckpointsLookThen() {
    var policy = CheckpointDeduplication()
    #expect(policy.looks)
    // 100 lines logged, 90 written: one in ten repeated, under one in eight.
    policy.checkpointed(logged: 100, written: 90)
    for _ in 0..<CheckpointDeduplication.checkpointsSkipped {
      #expect(!policy.looks)
      // What a checkpoint that does not look writes says nothing about repeats.
      policy.checkpointed(logged: 100, written: 100)
    }
    #expect(policy.looks)
  }

  @Test func repeatsKeepEveryCheckpointLooking() {
    var policy = CheckpointDeduplication()
    for _ in 0..<5 {
      // One line in eight repeated: not fewer than one in eight.
      policy.checkpointed(logged: 80, written: 70)
      #expect(policy.looks)
    }
    policy.checkpointed(logged: 80, written: 71)
    #expect(!policy.looks)
  }
}
