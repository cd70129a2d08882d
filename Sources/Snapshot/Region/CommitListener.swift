import SystemPackage

/// Told of every commit of a region before the journal makes it durable, with what the commit takes:
/// the hook replication ships commits through (``Region/commitListener``).
///
/// Only a region used by one thread at a time calls it: with ``Region/Threads/many`` the working copy
/// may change while a commit reads it.
package protocol CommitListener: AnyObject {
  /// The commit numbered `epoch` is about to be made durable: `lines` (each once) of `working`, the
  /// region being `size` bytes long. Throwing cancels it: nothing is written, the changes stay in the
  /// working copy, and msync throws the error.
  func willCommit(
    epoch: UInt64, size: Int, lines: UnsafeBufferPointer<UInt32>, working: UnsafeRawPointer, path: FilePath
  ) throws(SnapshotError)
}
