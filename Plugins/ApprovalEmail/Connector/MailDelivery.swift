import CallgateMail
import ConnectorKit
import Foundation
import NIOSSL

/// Where approval mails go: an SMTP server, or (without one configured) `.eml` files in the
/// outbox directory, so a gateway on its defaults still works end to end.
enum MailDelivery: Sendable {
    case smtp(SMTPConfiguration, from: MailAddress)
    case outbox(directory: String, from: MailAddress)

    static let defaultSender = "Callgate <callgate@localhost.localdomain>"

    /// Reads the instance configuration the gateway gives every plugin:
    /// `{"outboxDirectory": "…", "smtp": {"host", "port", "security", "username", "password", "from", "caFile"}}`.
    init(configuration: JSONValue) throws(ConnectorError) {
        let outbox = configuration["outboxDirectory"]?.string ?? "./data/outbox"
        guard let smtp = configuration["smtp"], let host = smtp["host"]?.string, !host.isEmpty else {
            guard let from = MailAddress(configuration["smtp"]?["from"]?.string ?? Self.defaultSender) else {
                throw .invalid("smtp.from is not an e-mail address")
            }
            self = .outbox(directory: outbox, from: from)
            return
        }
        let securityText = smtp["security"]?.string ?? "starttls"
        guard let security = SMTPConfiguration.Security(rawValue: securityText) else {
            throw .invalid("smtp.security is '\(securityText)'; use starttls, tls or none")
        }
        guard let from = MailAddress(smtp["from"]?.string ?? "") else { throw .invalid("smtp.from must be the sender's e-mail address") }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = smtp["caFile"]?.string, !caFile.isEmpty {
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caFile))]
            } catch {
                throw .invalid("smtp.ca_file '\(caFile)' cannot be read as PEM certificates: \(error)")
            }
        }
        let port = smtp["port"]?.int ?? (security == .implicitTLS ? 465 : security == .startTLS ? 587 : 25)
        self = .smtp(
            SMTPConfiguration(
                host: host, port: port, security: security, username: smtp["username"]?.string, password: smtp["password"]?.string,
                heloName: smtp["heloName"]?.string ?? "callgate.localdomain", tls: tls
            ),
            from: from
        )
    }

    var sender: MailAddress {
        switch self {
        case .smtp(_, let from), .outbox(_, let from): from
        }
    }

    /// What happened to one message, for the step's record.
    struct Receipt: Sendable {
        var fields: [String: JSONValue]
    }

    /// Why a message was not delivered.
    struct Failure: Error, Sendable {
        var message: String
        var reply: String?
        /// A 4xx reply or a lost connection: the step's retry policy tries again.
        var isTransient: Bool
    }

    /// Hands one message over. Blocks its (dedicated) thread until the server answered.
    func deliver(_ message: MailMessage, name: String, now: Date) throws(Failure) -> Receipt {
        let domain = message.from.address.split(separator: "@").last.map(String.init) ?? "callgate.localdomain"
        let bytes = message.rendered(date: now, messageID: "\(name)@\(domain)", boundary: "=_callgate_\(UUID().uuidString.lowercased())")
        switch self {
        case .outbox(let directory, _):
            let path = directory + "/" + name + ".eml"
            do {
                // Written whole, then renamed: a reader never sees half a message.
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: path + ".tmp"))
                guard rename(path + ".tmp", path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            } catch {
                throw Failure(message: "cannot write \(path): \(error)", reply: nil, isTransient: true)
            }
            return Receipt(fields: ["via": "outbox", "file": .string(path)])
        case .smtp(let configuration, let from):
            let result = Blocking.wait { () async -> Result<SMTPProtocol.Reply, SMTPError> in
                do throws(SMTPError) {
                    return .success(try await SMTPClient.send(bytes, from: from.address, to: message.to.map(\.address), configuration: configuration))
                } catch {
                    return .failure(error)
                }
            }
            switch result ?? .failure(SMTPError(message: "the SMTP task ended without an answer", reply: nil, isTransient: true)) {
            case .success(let reply):
                return Receipt(fields: ["via": "smtp", "server": .string("\(configuration.host):\(configuration.port)"), "reply": .string(reply.text)])
            case .failure(let error):
                throw Failure(message: error.message, reply: error.reply?.text, isTransient: error.isTransient)
            }
        }
    }
}

/// Runs async work from a thread of the plugin's own, which may block (never the cooperative pool).
enum Blocking {
    static func wait<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T? {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task {
            box.value = await work()
            done.signal()
        }
        done.wait()
        return box.value
    }

    private final class ResultBox<T>: @unchecked Sendable {
        // Written by the task before it signals, read after the wait: the semaphore orders them.
        var value: T?
    }
}
