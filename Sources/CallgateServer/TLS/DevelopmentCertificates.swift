import Crypto
import Foundation
import SwiftASN1
import X509

/// The development CA and server certificate that let `callgate serve` speak HTTPS on a fresh
/// machine with no configuration. Clients trust `ca.pem` (`curl --cacert certs/ca.pem`).
///
/// Made in-process with swift-certificates: a P-256 CA valid ten years, and a server certificate
/// for `localhost`, `127.0.0.1`, `::1` and any extra host names, valid 825 days. Private keys are
/// written with mode 0600 from the moment they exist.
public struct DevelopmentCertificates: Sendable {
    /// The directory holding the files.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The CA certificate clients should trust.
    public var caCertificatePath: String { directory + "/ca.pem" }
    /// The CA's private key (0600): it signs server certificates for new host names.
    public var caKeyPath: String { directory + "/ca-key.pem" }
    /// The server certificate chain (server, then CA).
    public var serverCertificatePath: String { directory + "/server.pem" }
    /// The server's private key (0600).
    public var serverKeyPath: String { directory + "/server-key.pem" }

    /// True when the server certificate and key both exist.
    public var exist: Bool {
        FileManager.default.fileExists(atPath: serverCertificatePath) && FileManager.default.fileExists(atPath: serverKeyPath)
    }

    /// Creates the CA (unless it exists) and a new server certificate for the default host names
    /// plus `extraHostnames`. Returns the names the server certificate covers.
    @discardableResult
    public func create(extraHostnames: [String] = []) throws -> [String] {
        let names = Self.uniqued(["localhost", "127.0.0.1", "::1"] + extraHostnames)
        try issue(
            commonName: names[0],
            usage: .serverAuth,
            alternativeNames: try names.map(Self.generalName),
            certificatePath: serverCertificatePath,
            keyPath: serverKeyPath
        )
        return names
    }

    /// Issues a client certificate signed by the development CA, for operators of an admin
    /// listener that requires mTLS (`admin.client_ca` set to ``caCertificatePath``).
    /// - Returns: The certificate and key paths (`client-NAME.pem`, `client-NAME-key.pem`).
    @discardableResult
    public func createClientCertificate(name: String) throws -> (certificate: String, key: String) {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw DevelopmentCertificateError(description: "client name '\(name)' may hold only letters, digits and -_.")
        }
        let paths = (certificate: directory + "/client-\(name).pem", key: directory + "/client-\(name)-key.pem")
        try issue(commonName: name, usage: .clientAuth, alternativeNames: [], certificatePath: paths.certificate, keyPath: paths.key)
        return paths
    }

    /// Signs a leaf certificate with the CA (created when missing) and writes it with its chain.
    private func issue(
        commonName: String,
        usage: ExtendedKeyUsage.Usage,
        alternativeNames: [GeneralName],
        certificatePath: String,
        keyPath: String
    ) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (caCertificate, caKey) = try loadOrCreateCA()
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([usage])
            SubjectKeyIdentifier(hash: Certificate.PublicKey(leafKey.publicKey))
            AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: caCertificate.publicKey).keyIdentifier)
            if !alternativeNames.isEmpty { SubjectAlternativeNames(alternativeNames) }
        }
        let leaf = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(leafKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(825 * 86_400),
            issuer: caCertificate.subject,
            subject: try DistinguishedName {
                OrganizationName("Callgate development")
                CommonName(commonName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(caKey)
        )
        let chain = try leaf.serializeAsPEM().pemString + "\n" + caCertificate.serializeAsPEM().pemString + "\n"
        try Self.write(leafKey.pemRepresentation + "\n", to: keyPath, secret: true)
        try Self.write(chain, to: certificatePath, secret: false)
    }

    private func loadOrCreateCA() throws -> (Certificate, P256.Signing.PrivateKey) {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: caCertificatePath), fileManager.fileExists(atPath: caKeyPath) {
            let certificate = try Certificate(pemEncoded: try String(contentsOfFile: caCertificatePath, encoding: .utf8))
            let key = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: caKeyPath, encoding: .utf8))
            return (certificate, key)
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Callgate development")
            CommonName("Callgate Development CA")
        }
        let now = Date()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(3650 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        try Self.write(key.pemRepresentation + "\n", to: caKeyPath, secret: true)
        try Self.write(try certificate.serializeAsPEM().pemString + "\n", to: caCertificatePath, secret: false)
        return (certificate, key)
    }

    private static func generalName(_ name: String) throws -> GeneralName {
        if let bytes = ipAddressBytes(name) { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))) }
        return .dnsName(name)
    }

    /// Writes atomically; secrets are created 0600 so they are never readable by others.
    private static func write(_ text: String, to path: String, secret: Bool) throws {
        let temporary = path + ".tmp-\(UUID().uuidString)"
        let created = FileManager.default.createFile(
            atPath: temporary,
            contents: Data(text.utf8),
            attributes: [.posixPermissions: secret ? 0o600 : 0o644]
        )
        guard created else { throw DevelopmentCertificateError(description: "cannot write \(path)") }
        if rename(temporary, path) != 0 {
            try? FileManager.default.removeItem(atPath: temporary)
            throw DevelopmentCertificateError(description: "cannot write \(path)")
        }
    }

    private static func uniqued(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

/// Development TLS material could not be made: a file could not be written or a name is not acceptable.
public struct DevelopmentCertificateError: Error, CustomStringConvertible {
    public let description: String
}

/// The 4 or 16 bytes of a textual IPv4 or IPv6 address, or nil when the text is a host name.
func ipAddressBytes(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
        return withUnsafeBytes(of: &v4) { Array($0) }
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 {
        return withUnsafeBytes(of: &v6) { Array($0) }
    }
    return nil
}
