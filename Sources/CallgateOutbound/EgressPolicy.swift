import Foundation

/// Where outbound calls may go (Http actions, plugin http_send). Link-local and cloud metadata addresses (169.254.0.0/16,
/// fe80::/10) are always refused; loopback and private ranges are allowed unless
/// ``denyPrivateNetworks`` is set (a single machine talks to its neighbours by default).
public struct EgressPolicy: Sendable, Equatable {
    /// Refuse loopback, RFC 1918, CGNAT and unique-local addresses too (shared deployments).
    public var denyPrivateNetworks: Bool

    public init(denyPrivateNetworks: Bool = false) {
        self.denyPrivateNetworks = denyPrivateNetworks
    }

    /// Why `host` may not be called, or nil when it may. Names are resolved and every address
    /// they resolve to must be allowed.
    public func refusal(forHost host: String) -> String? {
        let addresses = Self.resolve(host)
        if addresses.isEmpty { return "cannot resolve \(host)" }
        for address in addresses {
            if let reason = refusal(forAddress: address) { return "\(host) (\(Self.text(of: address))) is \(reason)" }
        }
        return nil
    }

    func refusal(forAddress bytes: [UInt8]) -> String? {
        if bytes.count == 4 {
            if bytes[0] == 169 && bytes[1] == 254 { return "link-local (169.254.0.0/16), always refused" }
            if denyPrivateNetworks {
                if bytes[0] == 127 || bytes[0] == 10 || (bytes[0] == 172 && (16...31).contains(bytes[1]))
                    || (bytes[0] == 192 && bytes[1] == 168) || (bytes[0] == 100 && (64...127).contains(bytes[1])) || bytes[0] == 0 {
                    return "a private or loopback address, refused by the egress policy"
                }
            }
            return nil
        }
        if bytes.count == 16 {
            // IPv4-mapped addresses are judged as IPv4.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return refusal(forAddress: Array(bytes[12..<16]))
            }
            if bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80 { return "link-local (fe80::/10), always refused" }
            if denyPrivateNetworks {
                let loopback = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
                if loopback || (bytes[0] & 0xFE) == 0xFC { return "a private or loopback address, refused by the egress policy" }
            }
            return nil
        }
        return "not an IP address"
    }

    private static func resolve(_ host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let address = info.pointee.ai_addr {
                if info.pointee.ai_family == AF_INET {
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        var raw = v4.pointee.sin_addr
                        addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                    }
                } else if info.pointee.ai_family == AF_INET6 {
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        var raw = v6.pointee.sin6_addr
                        addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                    }
                }
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }

    private static func text(of bytes: [UInt8]) -> String {
        bytes.count == 4 ? bytes.map(String.init).joined(separator: ".") : bytes.map { String(format: "%02x", $0) }.joined()
    }
}
