import SnapshotMacros
import SwiftSyntaxMacroExpansion
import SwiftSyntaxMacros
import SwiftSyntaxMacrosTestSupport
import XCTest

/// What `@Persistent` expands to, and what it refuses.
final class PersistentMacroExpansionTests: XCTestCase {
  let macros = ["Persistent": MacroSpec(type: PersistentMacro.self, conformances: ["PersistentStruct"])]

  func testExpandsAStruct() {
    assertMacroExpansion(
      """
      @Persistent
      public struct Node {
        var next: PersistentOffset<Node>
        var value: Int64
        var total: Int64 { value * 2 }
        static var count = 0
      }
      """,
      expandedSource: """
        public struct Node {
          var next: PersistentOffset<Node>
          var value: Int64
          var total: Int64 { value * 2 }
          static var count = 0

          /// A tracked pointer to a `Node` in a region: stores through it are tracked.
          public typealias Ref = TrackedPointer<Node>

          /// The stored properties' names, types, offsets and sizes. Every stored property must be plain
          /// bytes (BitwiseCopyable): the compiler reports here any that is not.
          public static var persistentLayout: PersistentLayout {
            PersistentLayout(of: Node.self, fields: [
              .init("next", (PersistentOffset<Node>).self, \\Node.next),
              .init("value", (Int64).self, \\Node.value),
            ])
          }
        }

        extension Node: PersistentStruct {
        }
        """,
      macroSpecs: macros, indentationWidth: .spaces(2))
  }

  func testRefusesTypesThatCannotLiveInARegion() {
    assertMacroExpansion(
      """
      @Persistent
      struct Bad {
        var name: String
        var items: [Int]
        var lookup: [String: Int]
        var callback: () -> Void
        var raw: UnsafeMutableRawPointer
        var fine: UInt32
      }
      """,
      expandedSource: """
        struct Bad {
          var name: String
          var items: [Int]
          var lookup: [String: Int]
          var callback: () -> Void
          var raw: UnsafeMutableRawPointer
          var fine: UInt32

          /// A tracked pointer to a `Bad` in a region: stores through it are tracked.
          typealias Ref = TrackedPointer<Bad>

          /// The stored properties' names, types, offsets and sizes. Every stored property must be plain
          /// bytes (BitwiseCopyable): the compiler reports here any that is not.
          static var persistentLayout: PersistentLayout {
            PersistentLayout(of: Bad.self, fields: [
              .init("fine", (UInt32).self, \\Bad.fine),
            ])
          }
        }

        extension Bad: PersistentStruct {
        }
        """,
      diagnostics: [
        DiagnosticSpec(message: "'name' has type String, which cannot live in a region: a String keeps its characters in memory outside the region. Store the bytes in the region and keep a PersistentOffset to them, or use a fixed-size InlineArray", line: 3, column: 13),
        DiagnosticSpec(message: "'items' has type [Int], which cannot live in a region: an Array keeps its elements in memory outside the region. Store the bytes in the region and keep a PersistentOffset to them, or use a fixed-size InlineArray", line: 4, column: 14),
        DiagnosticSpec(message: "'lookup' has type [String: Int], which cannot live in a region: a Dictionary keeps its entries in memory outside the region. Store the bytes in the region and keep a PersistentOffset to them, or use a fixed-size InlineArray", line: 5, column: 15),
        DiagnosticSpec(message: "'callback' has type () -> Void, which cannot live in a region: a closure refers to code and context outside the region. Store the bytes in the region and keep a PersistentOffset to them, or use a fixed-size InlineArray", line: 6, column: 17),
        DiagnosticSpec(message: "'raw' has type UnsafeMutableRawPointer, which cannot live in a region: a pointer is an address, meaningless in another run; use PersistentOffset. Store the bytes in the region and keep a PersistentOffset to them, or use a fixed-size InlineArray", line: 7, column: 12),
      ],
      macroSpecs: macros, indentationWidth: .spaces(2))
  }

  func testRefusesClasses() {
    assertMacroExpansion(
      """
      @Persistent
      class Box {
        var value = 0
      }
      """,
      expandedSource: """
        class Box {
          var value = 0
        }
        """,
      diagnostics: [
        DiagnosticSpec(message: "@Persistent applies to structs: a class or an enum with payloads cannot be laid out in a region", line: 1, column: 1)
      ],
      macroSpecs: macros, indentationWidth: .spaces(2))
  }

  func testAsksForExplicitTypes() {
    assertMacroExpansion(
      """
      @Persistent
      struct Counter {
        var count = 0
      }
      """,
      expandedSource: """
        struct Counter {
          var count = 0

          /// A tracked pointer to a `Counter` in a region: stores through it are tracked.
          typealias Ref = TrackedPointer<Counter>

          /// The stored properties' names, types, offsets and sizes. Every stored property must be plain
          /// bytes (BitwiseCopyable): the compiler reports here any that is not.
          static var persistentLayout: PersistentLayout {
            PersistentLayout(of: Counter.self, fields: [])
          }
        }

        extension Counter: PersistentStruct {
        }
        """,
      diagnostics: [
        DiagnosticSpec(message: "'count' needs an explicit type for @Persistent to check that it can live in a region", line: 3, column: 7)
      ],
      macroSpecs: macros, indentationWidth: .spaces(2))
  }
}
