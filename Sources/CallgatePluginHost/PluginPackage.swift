import Crypto
import Foundation

/// A plugin package on disk: `manifest.json`, the library it names, and optionally
/// `manifest.sig` (base64 Ed25519 signature over the exact bytes of `manifest.json`).
///
/// ``verify(trustedPublisherKeys:supportedMajors:)`` checks everything that can be checked
/// without running the library's code: a library's load-time constructors run at `dlopen`, so a
/// refused package must never reach it.
public struct PluginPackage: Sendable {
    /// The package directory.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var manifestPath: String { directory + "/manifest.json" }
    public var signaturePath: String { directory + "/manifest.sig" }

    /// A package whose manifest, ABI major, library hash and (when keys are configured)
    /// signature all checked out.
    public struct Verified: Sendable {
        public let manifest: PluginManifest
        public let libraryPath: String
        public let isSigned: Bool
    }

    /// Verifies the package without loading it.
    /// - Parameters:
    ///   - trustedPublisherKeys: Ed25519 public keys; when not empty, a valid signature by one of
    ///     them is required.
    ///   - supportedMajors: ABI majors this host loads.
    public func verify(trustedPublisherKeys: [Curve25519.Signing.PublicKey], supportedMajors: ClosedRange<Int>) throws -> Verified {
        let (manifest, manifestBytes) = try PluginManifest.load(from: manifestPath)
        guard supportedMajors.contains(manifest.abi.major) else {
            throw PluginError.incompatible(
                plugin: manifest.id, needs: manifest.abi.major, minor: manifest.abi.minor,
                hostMinMajor: supportedMajors.lowerBound, hostMaxMajor: supportedMajors.upperBound, hostMinor: Int(PluginABI.hostMinor)
            )
        }
        let signature = FileManager.default.contents(atPath: signaturePath)
        if !trustedPublisherKeys.isEmpty {
            guard let signature else { throw PluginError.unsigned(plugin: manifest.id) }
            let text = String(decoding: signature, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let raw = Data(base64Encoded: text),
                  trustedPublisherKeys.contains(where: { $0.isValidSignature(raw, for: manifestBytes) })
            else {
                throw PluginError.badSignature(plugin: manifest.id)
            }
        }
        let libraryPath = directory + "/" + manifest.library
        let actual = try Self.sha256(ofFile: libraryPath, plugin: manifest.id)
        guard actual == manifest.sha256 else {
            throw PluginError.hashMismatch(plugin: manifest.id, expected: manifest.sha256, actual: actual)
        }
        return Verified(manifest: manifest, libraryPath: libraryPath, isSigned: signature != nil && !trustedPublisherKeys.isEmpty)
    }

    /// Lowercase hex SHA-256 of a file.
    public static func sha256(ofFile path: String, plugin: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginError.loadFailed(plugin: plugin, reason: "cannot read \(path)")
        }
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
