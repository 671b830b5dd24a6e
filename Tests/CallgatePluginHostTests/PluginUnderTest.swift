import CallgateTesting
import Foundation
import Testing

/// The three example plugins the conformance runner checks, one per language.
enum PluginUnderTest: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case c
    case swift
    case rust

    var id: String { "example-\(rawValue)" }
    var testDescription: String { id }

    /// `rustc`, from PATH or rustup's default place.
    static let rustc: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map { "\($0)/rustc" } + [NSHomeDirectory() + "/.cargo/bin/rustc"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The Swift example, built by SwiftPM as the `CallgateExampleSwift` dynamic library product.
    static let swiftLibrary: String? = {
        let names = ["libCallgateExampleSwift.so", "libCallgateExampleSwift.dylib"]
        let directories = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            PluginFixture.packageRoot + "/.build/debug",
        ]
        return directories.flatMap { directory in names.map { directory + "/" + $0 } }.first { FileManager.default.fileExists(atPath: $0) }
    }()

    /// Why this leg cannot run here, or nil.
    var unavailableReason: String? {
        switch self {
        case .c: PluginFixture.cc == nil ? "no C compiler (gcc); .ci/run installs it" : nil
        case .swift: Self.swiftLibrary == nil ? "libCallgateExampleSwift.so was not built (swift build builds it)" : nil
        case .rust: Self.rustc == nil ? "rustc not found; .ci/run installs it" : nil
        }
    }

    /// Builds (or copies) the plugin library into `directory`.
    func build(into directory: String) throws -> String {
        switch self {
        case .c:
            return try PluginFixture.buildExample(into: directory)
        case .swift:
            let target = directory + "/libexample_swift.so"
            try FileManager.default.copyItem(atPath: try #require(Self.swiftLibrary), toPath: target)
            return target
        case .rust:
            let target = directory + "/libexample_rust.so"
            let result = try PluginFixture.run(try #require(Self.rustc), [
                "--edition", "2021", "--crate-type", "cdylib", "-O", "-o", target, PluginFixture.packageRoot + "/Plugins/ExampleRust/lib.rs",
            ])
            guard result.status == 0 else { throw FixtureError("rustc failed: \(result.output)") }
            return target
        }
    }
}
