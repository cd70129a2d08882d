import SwiftCompilerPlugin
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// `@Persistent`: checks that every stored property of a struct can live in a region, and adds
/// `PersistentStruct` conformance, a `persistentLayout` and a `Ref` type (the tracked pointer to it).
public struct PersistentMacro: MemberMacro, ExtensionMacro {
  public static func expansion(
    of node: AttributeSyntax,
    providingMembersOf declaration: some DeclGroupSyntax,
    conformingTo protocols: [TypeSyntax],
    in context: some MacroExpansionContext
  ) throws -> [DeclSyntax] {
    guard let structure = declaration.as(StructDeclSyntax.self) else {
      context.diagnose(Diagnostic(node: Syntax(node), message: PersistentDiagnostic.notAStruct))
      return []
    }
    let fields = storedProperties(of: structure, in: context)
    let name = structure.name.trimmedDescription
    let access = accessLevel(of: structure)
    let layoutFields = fields.map { field in
      "    .init(\"\(field.name)\", (\(field.type)).self, \\\(name).\(field.name)),"
    }.joined(separator: "\n")
    return [
      """
      /// A tracked pointer to a `\(raw: name)` in a region: stores through it are tracked.
      \(raw: access)typealias Ref = TrackedPointer<\(raw: name)>
      """,
      """
      /// The stored properties' names, types, offsets and sizes. Every stored property must be plain
      /// bytes (BitwiseCopyable): the compiler reports here any that is not.
      \(raw: access)static var persistentLayout: PersistentLayout {
        PersistentLayout(of: \(raw: name).self, fields: [\(raw: fields.isEmpty ? "" : "\n" + layoutFields + "\n  ")])
      }
      """,
    ]
  }

  public static func expansion(
    of node: AttributeSyntax,
    attachedTo declaration: some DeclGroupSyntax,
    providingExtensionsOf type: some TypeSyntaxProtocol,
    conformingTo protocols: [TypeSyntax],
    in context: some MacroExpansionContext
  ) throws -> [ExtensionDeclSyntax] {
    guard declaration.is(StructDeclSyntax.self), !protocols.isEmpty else { return [] }
    return [try ExtensionDeclSyntax("extension \(type.trimmed): PersistentStruct {}")]
  }

  struct Field {
    var name: String
    var type: String
  }

  /// The stored properties, each with its declared type; reports those that cannot live in a region
  /// or whose type the macro cannot see.
  static func storedProperties(of structure: StructDeclSyntax, in context: some MacroExpansionContext) -> [Field] {
    var fields: [Field] = []
    for member in structure.memberBlock.members {
      guard let variable = member.decl.as(VariableDeclSyntax.self),
        !variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) || $0.name.tokenKind == .keyword(.class) })
      else { continue }
      for binding in variable.bindings {
        // Computed properties have accessors other than observers; they take no room.
        if let accessors = binding.accessorBlock?.accessors {
          if case .getter = accessors { continue }
          if case .accessors(let list) = accessors,
            list.contains(where: { [.keyword(.get), .keyword(.set)].contains($0.accessorSpecifier.tokenKind) })
          {
            continue
          }
        }
        guard let identifier = binding.pattern.as(IdentifierPatternSyntax.self) else { continue }
        let name = identifier.identifier.trimmedDescription
        guard let type = binding.typeAnnotation?.type else {
          context.diagnose(Diagnostic(node: Syntax(binding), message: PersistentDiagnostic.missingType(name)))
          continue
        }
        if let problem = refusal(of: type) {
          context.diagnose(Diagnostic(node: Syntax(type), message: PersistentDiagnostic.notPlainBytes(name, type.trimmedDescription, problem)))
          continue
        }
        fields.append(Field(name: name, type: type.trimmedDescription))
      }
    }
    return fields
  }

  /// Why a type that can be recognised from its spelling cannot live in a region, if it cannot.
  static func refusal(of type: TypeSyntax) -> String? {
    if let optional = type.as(OptionalTypeSyntax.self) { return refusal(of: optional.wrappedType) }
    if type.is(ArrayTypeSyntax.self) { return "an Array keeps its elements in memory outside the region" }
    if type.is(DictionaryTypeSyntax.self) { return "a Dictionary keeps its entries in memory outside the region" }
    if type.is(FunctionTypeSyntax.self) { return "a closure refers to code and context outside the region" }
    if type.is(SomeOrAnyTypeSyntax.self) { return "an existential refers to memory outside the region" }
    if let identifier = type.as(IdentifierTypeSyntax.self) {
      switch identifier.name.text {
      case "String", "Substring": return "a String keeps its characters in memory outside the region"
      case "Array", "ContiguousArray", "ArraySlice": return "an Array keeps its elements in memory outside the region"
      case "Dictionary", "Set": return "a \(identifier.name.text) keeps its contents in memory outside the region"
      case "Data": return "Data keeps its bytes in memory outside the region"
      case "AnyObject", "AnyClass", "NSObject": return "a class reference is an address, meaningless in another run"
      case "UnsafePointer", "UnsafeMutablePointer", "UnsafeRawPointer", "UnsafeMutableRawPointer", "OpaquePointer":
        return "a pointer is an address, meaningless in another run; use PersistentOffset"
      default: return nil
      }
    }
    return nil
  }

  static func accessLevel(of structure: StructDeclSyntax) -> String {
    for modifier in structure.modifiers {
      switch modifier.name.tokenKind {
      case .keyword(.public), .keyword(.open): return "public "
      case .keyword(.package): return "package "
      case .keyword(.fileprivate): return "fileprivate "
      default: continue
      }
    }
    return ""
  }
}

enum PersistentDiagnostic: DiagnosticMessage {
  case notAStruct
  case missingType(String)
  case notPlainBytes(String, String, String)

  var message: String {
    switch self {
    case .notAStruct:
      return "@Persistent applies to structs: a class or an enum with payloads cannot be laid out in a region"
    case .missingType(let name):
      return "'\(name)' needs an explicit type for @Persistent to check that it can live in a region"
    case .notPlainBytes(let name, let type, let problem):
      return "'\(name)' has type \(type), which cannot live in a region: \(problem). "
        + "Store the bytes in the region and keep a PersistentOffset to them, or use a fixed-size InlineArray"
    }
  }

  var diagnosticID: MessageID {
    switch self {
    case .notAStruct: return MessageID(domain: "SnapshotMacros", id: "notAStruct")
    case .missingType: return MessageID(domain: "SnapshotMacros", id: "missingType")
    case .notPlainBytes: return MessageID(domain: "SnapshotMacros", id: "notPlainBytes")
    }
  }

  var severity: DiagnosticSeverity { .error }
}

@main
struct SnapshotMacrosPlugin: CompilerPlugin {
  let providingMacros: [Macro.Type] = [PersistentMacro.self]
}
