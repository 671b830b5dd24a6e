import CallgateTesting
import Foundation
import Testing

@Suite(.enabled(if: PluginFixture.cc != nil, "no C compiler (gcc) on this machine: .ci/run installs it"))
struct ABIHeaderTests {
    @Test func theHeaderCompilesAsStrictC11AndCPlusPlus17() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = "#include \"callgate_plugin.h\"\nint main(void) { return CALLGATE_ABI_MAJOR == 1 ? 0 : 1; }\n"
        try source.write(toFile: directory.path + "/check.c", atomically: true, encoding: .utf8)
        try source.write(toFile: directory.path + "/check.cpp", atomically: true, encoding: .utf8)
        let c = try PluginFixture.run("/usr/bin/env", ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
                                                         "-I", PluginFixture.currentHeaderDirectory, "-c", "check.c"], in: directory.path)
        #expect(c.status == 0, "\(c.output)")
        let cpp = try PluginFixture.run("/usr/bin/env", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic",
                                                           "-I", PluginFixture.currentHeaderDirectory, "-c", "check.cpp"], in: directory.path)
        #expect(cpp.status == 0, "\(cpp.output)")
    }

    /// The layout golden file may only grow: every line in it must still hold for the header.
    @Test func theLayoutMatchesTheGoldenFileWhichOnlyGrows() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let golden = try String(contentsOfFile: PluginFixture.packageRoot + "/Tests/CallgatePluginHostTests/abi-layout.golden", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init)
        var program = "#include <stdio.h>\n#include <stddef.h>\n#include \"callgate_plugin.h\"\nint main(void) {\n"
        for line in golden {
            let parts = line.split(separator: " ")
            let what = String(parts[1])
            if parts[0] == "sizeof" {
                program += "  printf(\"sizeof \(what) %zu\\n\", sizeof(\(what)));\n"
            } else {
                let pieces = what.split(separator: ".")
                program += "  printf(\"offsetof \(what) %zu\\n\", offsetof(\(pieces[0]), \(pieces[1])));\n"
            }
        }
        program += "  return 0;\n}\n"
        try program.write(toFile: directory.path + "/layout.c", atomically: true, encoding: .utf8)
        let build = try PluginFixture.run("/usr/bin/env", ["gcc", "-std=c11", "-I", PluginFixture.currentHeaderDirectory, "-o", "layout", "layout.c"], in: directory.path)
        #expect(build.status == 0, "\(build.output)")
        let actual = try PluginFixture.run(directory.path + "/layout", []).output.split(separator: "\n").map(String.init)
        #expect(actual == golden)
    }

    @Test func theFrozenHeaderStillDescribesTheSameLayout() throws {
        // The 1.0 header's declarations must be a prefix of the current ones: compile both into
        // one program and compare every 1.0 size and offset.
        let frozen = try String(contentsOfFile: PluginFixture.frozenHeaderDirectory + "/callgate_plugin.h", encoding: .utf8)
        let current = try String(contentsOfFile: PluginFixture.currentHeaderDirectory + "/callgate_plugin.h", encoding: .utf8)
        for declaration in ["callgate_bytes", "callgate_writer", "callgate_host_api", "callgate_plugin_hooks", "callgate_host_offer", "callgate_plugin_answer"] {
            #expect(frozen.contains("} \(declaration);"), "frozen header lost \(declaration)")
            #expect(current.contains("} \(declaration);"), "current header lost \(declaration)")
        }
        #expect(current.contains("#define CALLGATE_ABI_MAJOR 1"))
    }

    /// Release builds of the three example plugins export one C symbol: the negotiation entry
    /// point (a Swift plugin also exports its SDK's mangled Swift symbols, which no C host sees).
    @Test(arguments: PluginUnderTest.allCases)
    func anOptimisedPluginExportsOnlyTheNegotiationSymbol(kind: PluginUnderTest) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let library: String
        switch kind {
        case .c, .rust:
            if let reason = kind.unavailableReason { return print("skipping the \(kind) leg: \(reason)") }
            library = try kind.build(into: directory.path)
        case .swift:
            library = try Self.buildReleaseSwiftExample(into: directory.path)
        }
        let symbols = try PluginFixture.run("/usr/bin/env", ["nm", "-D", "--defined-only", library])
        #expect(symbols.status == 0, "\(symbols.output)")
        let exported = symbols.output.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[1] == "T", !parts[2].hasPrefix("$s") else { return nil }
            return String(parts[2])
        }
        #expect(exported == ["callgate_plugin_negotiate"])
    }

    /// Compiles ConnectorKit and the Swift example with `swiftc -O`, as a plugin author's release
    /// build would, without disturbing SwiftPM's build folder.
    static func buildReleaseSwiftExample(into directory: String) throws -> String {
        let root = PluginFixture.packageRoot
        let include = root + "/Sources/CCallgatePlugin/include"
        // The SDK's two modules, in dependency order, as static libraries.
        for module in ["CallgatePluginBuffers", "ConnectorKit"] {
            let sources = try FileManager.default.contentsOfDirectory(atPath: root + "/Sources/" + module)
                .filter { $0.hasSuffix(".swift") }.map { root + "/Sources/\(module)/" + $0 }
            let built = try PluginFixture.run("/usr/bin/env", ["swiftc", "-O", "-parse-as-library", "-emit-module", "-emit-library", "-static",
                                                               "-module-name", module, "-I", directory, "-I", include] + sources
                                                               + ["-o", directory + "/lib\(module).a"], in: directory)
            guard built.status == 0 else { throw FixtureError("swiftc (\(module)) failed: \(built.output)") }
        }
        let connector = try PluginFixture.run("/usr/bin/env", ["swiftc", "-O", "-parse-as-library", "-emit-module", "-emit-library", "-static",
                                                               "-module-name", "ExampleSwiftConnector", "-I", directory, "-I", include,
                                                               root + "/Plugins/ExampleSwift/Connector/ExampleConnector.swift",
                                                               "-o", directory + "/libExampleSwiftConnector.a"], in: directory)
        guard connector.status == 0 else { throw FixtureError("swiftc (connector) failed: \(connector.output)") }
        let library = directory + "/libexample_swift.so"
        let plugin = try PluginFixture.run("/usr/bin/env", ["swiftc", "-O", "-parse-as-library", "-emit-library", "-module-name", "ExampleSwiftPlugin",
                                                            "-I", directory, "-I", include, root + "/Plugins/ExampleSwift/Export/Export.swift",
                                                            "-L", directory, "-lExampleSwiftConnector", "-lConnectorKit", "-lCallgatePluginBuffers", "-o", library], in: directory)
        guard plugin.status == 0 else { throw FixtureError("swiftc (plugin) failed: \(plugin.output)") }
        return library
    }
}
