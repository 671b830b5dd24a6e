import CallgatePluginHost
import CallgateTesting
import Foundation
import Testing

/// The plugin author's guide in README.md is compiled and run, so it stays true.
@Suite struct ReadmeExampleTests {
    /// The first fenced block of `language` after `marker` in README.md.
    static func readmeBlock(after marker: String, language: String) throws -> String {
        let readme = try String(contentsOfFile: PluginFixture.packageRoot + "/README.md", encoding: .utf8)
        guard let markerRange = readme.range(of: marker),
              let open = readme.range(of: "```\(language)\n", range: markerRange.upperBound..<readme.endIndex),
              let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex)
        else { throw FixtureError("README.md has no ```\(language) block after \(marker)") }
        return String(readme[open.upperBound..<close.lowerBound])
    }

    @Test(.enabled(if: PluginFixture.cc != nil, "no C compiler (gcc); .ci/run installs it"))
    func theCExampleCompilesWithOneCommandInstallsAndAnswers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Self.readmeBlock(after: "### A complete plugin in C", language: "c").write(toFile: directory.path + "/hello.c", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory.path + "/hello", withIntermediateDirectories: true)
        // The README's gcc command, with -Werror added: the example must be warning-free.
        let build = try PluginFixture.run("/usr/bin/env", [
            "gcc", "-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror",
            "-I", PluginFixture.currentHeaderDirectory, "-o", "hello/libhello.so", "hello.c",
        ], in: directory.path)
        #expect(build.status == 0, "\(build.output)")
        let package = try PluginFixture.package(library: directory.path + "/hello/libhello.so", id: "hello")
        let (manager, environment) = try await PluginFixture.makeManager(in: directory)
        let record = try await manager.install(packageDirectory: package)
        #expect(record.state == "loaded")
        #expect(record.buildInfo == "hello 1.0.0")
        let plugin = try #require(manager.plugin(id: "hello"))
        let instance = try await plugin.createInstance(configuration: Array("{}".utf8))
        let subscribed = try await plugin.subscribe(instance, request: Array("{}".utf8))
        let minted = try #require(try JSONSerialization.jsonObject(with: Data(subscribed.output)) as? [String: Any])
        let id = try #require(minted["id"] as? String)
        #expect(try await environment.callbacks.registration(id: id) != nil)
        let answered = try await plugin.handleCallback(instance, request: Array("{}".utf8), body: [])
        #expect(String(decoding: answered.output, as: UTF8.self).contains(#""decision":"resume""#))
    }

    @Test func theSwiftExampleCompilesAgainstConnectorKit() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try Self.readmeBlock(after: "### In Swift, with ConnectorKit", language: "swift")
        try source.write(toFile: directory.path + "/Hello.swift", atomically: true, encoding: .utf8)
        // Reuse the release SDK build, then compile the README's plugin against it.
        _ = try ABIHeaderTests.buildReleaseSwiftExample(into: directory.path)
        let build = try PluginFixture.run("/usr/bin/env", [
            "swiftc", "-parse-as-library", "-emit-library", "-module-name", "HelloPlugin", "-I", directory.path,
            "-I", PluginFixture.currentHeaderDirectory, directory.path + "/Hello.swift", "-L", directory.path, "-lConnectorKit", "-lCallgatePluginBuffers",
            "-o", directory.path + "/libhello_swift.so",
        ], in: directory.path)
        #expect(build.status == 0, "\(build.output)")
    }
}
