/// The heap's 28 size classes of small blocks, from 32 bytes to 4 KiB, at most 25% apart above 128
/// bytes. A table in one place, not an array built on every use: allocation stays off the process's
/// heap.
@usableFromInline enum HeapSizeClass {
  @usableFromInline static let sizes: InlineArray<28, Int> = [
    32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1152, 1280, 1536,
    1792, 2048, 2560, 3072, 3584, 4096,
  ]

  @inlinable static var count: Int { sizes.count }
  @inlinable static var largest: Int { sizes[sizes.count - 1] }

  /// The block size of class `index`.
  @inlinable static func size(_ index: Int) -> Int { sizes[index] }

  /// The smallest class whose blocks hold `bytes`; nil when a large block is needed.
  @inlinable static func index(fitting bytes: Int) -> Int? {
    var low = 0, high = sizes.count
    while low < high {
      let middle = (low + high) / 2
      if sizes[middle] < bytes { low = middle + 1 } else { high = middle }
    }
    return low < sizes.count ? low : nil
  }

  /// The class whose blocks are exactly `size` bytes; nil when there is none.
  @inlinable static func index(of size: Int) -> Int? {
    guard let index = index(fitting: size), sizes[index] == size else { return nil }
    return index
  }
}
