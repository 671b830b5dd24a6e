import NIOSSL

/// Builds the NIOSSL server configuration of a listener from the gateway's settings.
enum ListenerTLS {
    /// The certificate chain and key in force: the configured PEM files, or the development
    /// certificate (created when missing).
    static func certificateFiles(for configuration: GatewayConfiguration) throws -> (certificate: String, key: String) {
        if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            return (certificate, key)
        }
        let development = DevelopmentCertificates(directory: configuration.certsDirectory)
        if !development.exist { try development.create() }
        return (development.serverCertificatePath, development.serverKeyPath)
    }

    /// A server configuration with the gateway's minimum TLS version; when `clientCAPath` is set,
    /// clients must present a certificate signed by one of its CAs.
    static func serverConfiguration(
        certificatePath: String,
        keyPath: String,
        minimumVersion: GatewayConfiguration.TLSVersion,
        clientCAPath: String? = nil
    ) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.minimumTLSVersion = minimumVersion == .v1_3 ? .tlsv13 : .tlsv12
        tls.applicationProtocols = ["http/1.1"]
        if let clientCAPath {
            tls.trustRoots = .file(clientCAPath)
            tls.certificateVerification = .noHostnameVerification
        }
        return tls
    }
}
