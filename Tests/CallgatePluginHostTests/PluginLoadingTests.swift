import CallgatePluginHost
import CallgateTesting
import Crypto
import Foundation
import Testing

@Suite(.enabled(if: PluginFixture.cc != nil, "no C compiler (gcc) on this machine: .ci/run installs it"))
struct PluginLoadingTests {
    /// Builds the example with a load-time constructor that writes `marker`.
    private func buildWithMarker(_ directory: TemporaryDirectory, extra: [String] = []) throws -> (library: String, marker: String) {
        let marker = directory.path + "/constructor-ran"
        try FileManager.default.createDirectory(atPath: directory.path + "/pkg", withIntermediateDirectories: true)
        let library = try PluginFixture.buildExample(into: directory.path + "/pkg", defines: ["EXAMPLE_MARKER_FILE=\"\(marker)\""] + extra)
        return (library, marker)
    }

    private func expectRefusal(_ manager: PluginManager, _ package: String, message: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await manager.install(packageDirectory: package)
            Issue.record("installed a package that should be refused", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)" == message, sourceLocation: sourceLocation)
        }
    }

    @Test func aPluginAnsweringAnUnknownMajorIsRefusedWithTheExactMessage() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (manager, _) = try await PluginFixture.makeManager(in: directory)
        try FileManager.default.createDirectory(atPath: directory.path + "/pkg", withIntermediateDirectories: true)
        let library = try PluginFixture.buildExample(into: directory.path + "/pkg", defines: ["EXAMPLE_ABI_MAJOR=2"])
        let package = try PluginFixture.package(library: library)
        await expectRefusal(manager, package, message: "plugin example-c needs ABI 2.x (built against 2.3); this gateway supports 1.0–1.3")
    }

    @Test func aWrongManifestMajorIsRefusedBeforeLoad() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (manager, _) = try await PluginFixture.makeManager(in: directory)
        let (library, marker) = try buildWithMarker(directory)
        let package = try PluginFixture.package(library: library, abiMajor: 2)
        await expectRefusal(manager, package, message: "plugin example-c needs ABI 2.x (built against 2.0); this gateway supports 1.0–1.3")
        #expect(!FileManager.default.fileExists(atPath: marker), "the library was loaded")
    }

    @Test func aTamperedLibraryIsRefusedBeforeLoad() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (manager, _) = try await PluginFixture.makeManager(in: directory)
        let (library, marker) = try buildWithMarker(directory)
        let package = try PluginFixture.package(library: library)
        let expected = try PluginPackage.sha256(ofFile: library, plugin: "example-c")
        // Flip one byte near the end of the library after the manifest was written.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: library))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size - 1)
        let last = try handle.read(upToCount: 1) ?? Data([0])
        try handle.seek(toOffset: size - 1)
        try handle.write(contentsOf: Data([last[0] ^ 0xFF]))
        try handle.close()
        let actual = try PluginPackage.sha256(ofFile: library, plugin: "example-c")
        await expectRefusal(manager, package, message: "plugin example-c: hash mismatch: manifest says sha256 \(expected), library is \(actual)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the library was loaded")
    }

    @Test func unsignedAndBadlySignedPluginsAreRefusedBeforeLoadWhenKeysAreTrusted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let publisher = Curve25519.Signing.PrivateKey()
        let stranger = Curve25519.Signing.PrivateKey()
        let (manager, _) = try await PluginFixture.makeManager(in: directory, trustedPublisherKeys: [publisher.publicKey])
        let (library, marker) = try buildWithMarker(directory)

        let unsigned = try PluginFixture.package(library: library)
        await expectRefusal(manager, unsigned, message: "plugin example-c is unsigned, and trusted publisher keys are configured")
        let badlySigned = try PluginFixture.package(library: library, signingKey: stranger)
        await expectRefusal(manager, badlySigned, message: "plugin example-c: the manifest signature does not verify with any trusted publisher key")
        #expect(!FileManager.default.fileExists(atPath: marker), "a refused library was loaded")

        // Signed by the trusted publisher it loads, and only now the constructor runs.
        let signed = try PluginFixture.package(library: library, signingKey: publisher)
        let record = try await manager.install(packageDirectory: signed)
        #expect(record.state == "loaded")
        #expect(record.signed)
        #expect(FileManager.default.fileExists(atPath: marker))
    }

    @Test func aPluginBuiltAgainstTheFrozen10HeaderLoads() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (manager, _) = try await PluginFixture.makeManager(in: directory)
        try FileManager.default.createDirectory(atPath: directory.path + "/pkg", withIntermediateDirectories: true)
        let library = try PluginFixture.buildExample(into: directory.path + "/pkg", headerDirectory: PluginFixture.frozenHeaderDirectory)
        let record = try await manager.install(packageDirectory: try PluginFixture.package(library: library))
        #expect(record.state == "loaded")
        #expect(record.abi == "1.0")
        #expect(record.buildInfo == "example-c 1.0.0 (C11)")
    }

    @Test func aLibraryWithoutTheNegotiationSymbolIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (manager, _) = try await PluginFixture.makeManager(in: directory)
        try FileManager.default.createDirectory(atPath: directory.path + "/pkg", withIntermediateDirectories: true)
        try "int not_a_plugin(void) { return 1; }\n".write(toFile: directory.path + "/other.c", atomically: true, encoding: .utf8)
        let library = directory.path + "/pkg/libother.so"
        let build = try PluginFixture.run("/usr/bin/env", ["gcc", "-shared", "-fPIC", "-o", library, directory.path + "/other.c"])
        #expect(build.status == 0, "\(build.output)")
        await expectRefusal(manager, try PluginFixture.package(library: library), message: "plugin example-c: missing symbol callgate_plugin_negotiate")
    }

    @Test(arguments: [
        (#"{"version":"1","abi":{"major":1,"minor":0},"library":"l.so","sha256":"00","operations":[]}"#, "$.id must be a non-empty string"),
        (#"{"id":"Bad_Id","version":"1","abi":{"major":1,"minor":0},"library":"l.so","sha256":"00","operations":[]}"#, "$.id 'Bad_Id' may hold only a-z, 0-9 and '-' (64 at most)"),
        (#"{"id":"x","version":"1","abi":{"major":"1"},"library":"l.so","sha256":"00","operations":[]}"#, "$.abi must be {\"major\": int, \"minor\": int}"),
        (#"{"id":"x","version":"1","abi":{"major":1,"minor":0},"library":"../l.so","sha256":"00","operations":[]}"#, "$.library must be a file name beside the manifest"),
        (#"{"id":"x","version":"1","abi":{"major":1,"minor":0},"library":"l.so","sha256":"00","operations":[]}"#, "$.sha256 must be 64 hex digits"),
        (#"{"id":"x","version":"1","abi":{"major":1,"minor":0},"library":"l.so","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}"#, "$.operations must be an array of strings"),
        ("not json", "not a JSON object"),
    ])
    func aBadManifestIsRefusedNamingTheJSONPath(manifest: String, problem: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try manifest.write(toFile: directory.path + "/manifest.json", atomically: true, encoding: .utf8)
        #expect(throws: PluginError.manifest("", "")) { try PluginManager.verify(packageDirectory: directory.path) }
        do {
            _ = try PluginManager.verify(packageDirectory: directory.path)
        } catch {
            #expect("\(error)" == "manifest \(directory.path)/manifest.json: \(problem)")
        }
    }
}
