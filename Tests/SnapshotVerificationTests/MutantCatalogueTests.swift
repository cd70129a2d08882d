import Foundation
import Testing

/// The catalogue of source-level mutants (`Scripts/mutants.txt`) stays applicable: each mutant's text
/// occurs exactly once in the file it names, as `Scripts/mutate.swift` requires. A change to the code
/// that leaves a mutant's text behind would otherwise go unnoticed until the next mutation run, which
/// CI does not make.
@Suite struct MutantCatalogueTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  struct Entry {
    var id: String
    var file = ""
    var original: [String] = []
  }

  /// The entries of the catalogue: `## ID: summary`, `@ FILE`, and the `- TEXT` lines of each.
  static func entries() throws -> [Entry] {
    let text = try String(contentsOf: repository.appendingPathComponent("Scripts/mutants.txt"), encoding: .utf8)
    var entries: [Entry] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("## ") {
        entries.append(Entry(id: String(line.dropFirst(3).prefix { $0 != ":" })))
      } else if line.hasPrefix("@ "), !entries.isEmpty {
        entries[entries.count - 1].file = String(line.dropFirst(2))
      } else if line.hasPrefix("- "), !entries.isEmpty {
        entries[entries.count - 1].original.append(String(line.dropFirst(2)))
      }
    }
    return entries
  }

  @Test func everyMutantTextOccursOnceInItsFile() throws {
    let entries = try Self.entries()
    #expect(entries.count >= 90, "the catalogue was read: \(entries.count) mutants")
    for entry in entries {
      let source = try String(contentsOf: Self.repository.appendingPathComponent(entry.file), encoding: .utf8)
      let original = entry.original.joined(separator: "\n")
      #expect(!original.isEmpty, "\(entry.id) replaces no text")
      let occurrences = source.components(separatedBy: original).count - 1
      #expect(occurrences == 1, "\(entry.id): its text occurs \(occurrences) times in \(entry.file)")
    }
  }
}
