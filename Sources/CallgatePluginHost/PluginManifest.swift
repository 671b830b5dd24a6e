import Foundation

/// `manifest.json` of a plugin package: what the plugin claims to be, checked before its library
/// is ever loaded.
///
/// ```json
/// {"id": "example-c", "version": "1.0.0", "abi": {"major": 1, "minor": 0},
///  "library": "libexample.so", "sha256": "<hex>", "platform": "linux-x86_64",
///  "toolchain": "gcc 12", "operations": ["ExampleTrigger", "ExampleAction"]}
/// ```
public struct PluginManifest: Codable, Sendable, Equatable {
    public struct ABIVersion: Codable, Sendable, Equatable {
        public var major: Int
        public var minor: Int
    }

    /// Unique plugin id: lowercase letters, digits and `-`.
    public var id: String
    /// The plugin's own version.
    public var version: String
    /// The ABI version the plugin was built against.
    public var abi: ABIVersion
    /// The library's file name, beside the manifest.
    public var library: String
    /// Lowercase hex SHA-256 of the library.
    public var sha256: String
    /// `linux-x86_64`, `linux-aarch64`, …, when stated.
    public var platform: String?
    /// The toolchain that built the library, when stated (Swift has no stable ABI on Linux).
    public var toolchain: String?
    /// The trigger and action types the plugin offers.
    public var operations: [String]

    /// Reads and validates `manifest.json`, naming the JSON path of each problem.
    public static func load(from path: String) throws -> (manifest: PluginManifest, bytes: Data) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginError.manifest(path, "cannot read the file")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw PluginError.manifest(path, "not a JSON object")
        }
        func string(_ key: String) throws -> String {
            guard let value = object[key] as? String, !value.isEmpty else { throw PluginError.manifest(path, "$.\(key) must be a non-empty string") }
            return value
        }
        let id = try string("id")
        guard id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }), id.count <= 64 else {
            throw PluginError.manifest(path, "$.id '\(id)' may hold only a-z, 0-9 and '-' (64 at most)")
        }
        guard let abi = object["abi"] as? [String: Any], let major = abi["major"] as? Int, let minor = abi["minor"] as? Int, major >= 0, minor >= 0 else {
            throw PluginError.manifest(path, "$.abi must be {\"major\": int, \"minor\": int}")
        }
        let library = try string("library")
        guard !library.contains("/"), library != "..", library != "." else {
            throw PluginError.manifest(path, "$.library must be a file name beside the manifest")
        }
        let sha = try string("sha256").lowercased()
        guard sha.count == 64, sha.allSatisfy(\.isHexDigit) else { throw PluginError.manifest(path, "$.sha256 must be 64 hex digits") }
        guard let operations = object["operations"] as? [String] else {
            throw PluginError.manifest(path, "$.operations must be an array of strings")
        }
        let manifest = PluginManifest(
            id: id,
            version: try string("version"),
            abi: ABIVersion(major: major, minor: minor),
            library: library,
            sha256: sha,
            platform: object["platform"] as? String,
            toolchain: object["toolchain"] as? String,
            operations: operations
        )
        return (manifest, data)
    }
}
