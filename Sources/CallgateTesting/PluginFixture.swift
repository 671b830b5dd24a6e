import Crypto
import Foundation

/// Builds real plugin libraries with gcc and packages them the way `callgate plugin install`
/// expects: `manifest.json`, the library, optionally `manifest.sig`.
public enum PluginFixture {
    /// The package's root directory (this file is Sources/CallgateTesting/PluginFixture.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    public static let currentHeaderDirectory = packageRoot + "/Sources/CCallgatePlugin/include"
    public static let frozenHeaderDirectory = packageRoot + "/Tests/CallgatePluginHostTests/abi-1.0"
    public static let exampleSource = packageRoot + "/Plugins/ExampleC/example_plugin.c"

    /// The C compiler, or nil (tests that need it are skipped with that reason).
    public static let cc: String? = ["/usr/bin/gcc", "/usr/bin/cc", "/usr/local/bin/gcc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs a command; returns its exit status and combined output.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// Compiles the example C plugin into `directory` and returns the library path.
    public static func buildExample(
        into directory: String,
        defines: [String] = [],
        headerDirectory: String = currentHeaderDirectory,
        libraryName: String = "libexample_c.so"
    ) throws -> String {
        guard let cc else { throw FixtureError("no C compiler") }
        let library = directory + "/" + libraryName
        let arguments = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
                         "-I", headerDirectory] + defines.map { "-D\($0)" } + ["-o", library, exampleSource]
        let result = try run(cc, arguments)
        guard result.status == 0 else { throw FixtureError("gcc failed: \(result.output)") }
        return library
    }

    /// Writes `manifest.json` for `library` (its real hash unless `sha256` is given) and, with a
    /// signing key, `manifest.sig`.
    public static func package(
        library: String,
        id: String = "example-c",
        abiMajor: Int = 1,
        sha256: String? = nil,
        signingKey: Curve25519.Signing.PrivateKey? = nil
    ) throws -> String {
        let directory = (library as NSString).deletingLastPathComponent
        let hash = try sha256 ?? sha256Hex(ofFile: library)
        let manifest: [String: Any] = [
            "id": id, "version": "1.0.0", "abi": ["major": abiMajor, "minor": 0],
            "library": (library as NSString).lastPathComponent, "sha256": hash,
            "platform": "linux-x86_64", "toolchain": "gcc", "operations": ["ExampleTrigger", "ExampleAction"],
        ]
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: URL(fileURLWithPath: directory + "/manifest.json"))
        if let signingKey {
            let signature = try signingKey.signature(for: data)
            try Data(signature.base64EncodedString().utf8).write(to: URL(fileURLWithPath: directory + "/manifest.sig"))
        }
        return directory
    }

    /// Lowercase hex SHA-256 of a file.
    public static func sha256Hex(ofFile path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError("cannot read \(path)") }
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}

/// A fixture could not be built.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
