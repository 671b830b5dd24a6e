import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Where and how mail is handed over.
public struct SMTPConfiguration: Sendable {
    public enum Security: String, Sendable {
        /// Plain text (a relay on the same machine).
        case none
        /// Plain connect, then `STARTTLS` before anything else is said (required, not optional).
        case startTLS = "starttls"
        /// TLS from the first byte (port 465).
        case implicitTLS = "tls"
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// The name this client gives in `EHLO`.
    public var heloName: String
    /// Trust roots and verification for the server's certificate.
    public var tls: TLSConfiguration
    /// Longest wait for any one reply.
    public var replyTimeoutSeconds: Double

    public init(
        host: String, port: Int, security: Security, username: String? = nil, password: String? = nil,
        heloName: String = "callgate.localdomain", tls: TLSConfiguration = .makeClientConfiguration(), replyTimeoutSeconds: Double = 60
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.heloName = heloName
        self.tls = tls
        self.replyTimeoutSeconds = replyTimeoutSeconds
    }
}

/// Why a message was not handed over.
public struct SMTPError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The server's reply that refused it, when it was a reply.
    public var reply: SMTPProtocol.Reply?
    /// A 4xx reply or a lost connection: the same message may pass later. A 5xx will not.
    public var isTransient: Bool

    public init(message: String, reply: SMTPProtocol.Reply?, isTransient: Bool) {
        self.message = message
        self.reply = reply
        self.isTransient = isTransient
    }

    public var description: String { message }
}

/// A small SMTP client (RFC 5321) on SwiftNIO: EHLO, STARTTLS or implicit TLS, AUTH PLAIN or
/// LOGIN, one message per connection (MAIL FROM, RCPT TO each recipient, DATA dot-stuffed), QUIT.
public enum SMTPClient {
    /// Sends `message` (RFC 5322 bytes) from `sender` to `recipients`. Returns the server's
    /// answer to the end of DATA (`250 … queued as …`).
    public static func send(
        _ message: [UInt8], from sender: String, to recipients: [String], configuration: SMTPConfiguration
    ) async throws(SMTPError) -> SMTPProtocol.Reply {
        do {
            return try await session(message, from: sender, to: recipients, configuration: configuration)
        } catch let error as SMTPError {
            throw error
        } catch ChannelError.ioOnClosedChannel {
            // The reply timeout closed the connection while a command was being written.
            throw SMTPError(
                message: "SMTP \(configuration.host): the connection closed or no reply came within \(Int(configuration.replyTimeoutSeconds)) s",
                reply: nil, isTransient: true
            )
        } catch {
            throw SMTPError(message: "SMTP \(configuration.host):\(configuration.port): \(error)", reply: nil, isTransient: true)
        }
    }

    private static func session(
        _ message: [UInt8], from sender: String, to recipients: [String], configuration: SMTPConfiguration
    ) async throws -> SMTPProtocol.Reply {
        let (stream, continuation) = AsyncStream.makeStream(of: Result<SMTPProtocol.Reply, SMTPProtocolError>.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(Int64(min(configuration.replyTimeoutSeconds, 30))))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if configuration.security == .implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler(configuration))
                    }
                    // A server that stops answering closes the connection, which ends the replies.
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .milliseconds(Int64(configuration.replyTimeoutSeconds * 1000))))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder(continuation: continuation)))
                    try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .get()
        defer { channel.close(promise: nil) }
        var replies = stream.makeAsyncIterator()
        func next() async throws -> SMTPProtocol.Reply {
            switch await replies.next() {
            case .success(let reply)?: return reply
            case .failure(let error)?: throw SMTPError(message: "SMTP \(configuration.host): \(error)", reply: nil, isTransient: true)
            case nil:
                throw SMTPError(
                    message: "SMTP \(configuration.host): the connection closed or no reply came within \(Int(configuration.replyTimeoutSeconds)) s",
                    reply: nil, isTransient: true
                )
            }
        }
        func expect(_ reply: SMTPProtocol.Reply, _ step: String) throws -> SMTPProtocol.Reply {
            guard reply.isPositive else {
                throw SMTPError(message: "SMTP \(step) refused: \(reply.text)", reply: reply, isTransient: reply.isTransient)
            }
            return reply
        }
        func command(_ line: String, _ step: String? = nil) async throws -> SMTPProtocol.Reply {
            try await channel.writeAndFlush(ByteBuffer(string: line + "\r\n"))
            return try expect(try await next(), step ?? String(line.prefix(4)))
        }

        _ = try expect(try await next(), "greeting")
        var ehlo = try await command("EHLO \(configuration.heloName)", "EHLO")
        if configuration.security == .startTLS {
            guard SMTPProtocol.extensions(of: ehlo)["STARTTLS"] != nil else {
                throw SMTPError(message: "SMTP \(configuration.host) does not offer STARTTLS, which the configuration requires (EHLO: \(ehlo.text))", reply: ehlo, isTransient: false)
            }
            _ = try await command("STARTTLS")
            try await channel.pipeline.addHandler(try Self.tlsHandler(configuration), position: .first).get()
            ehlo = try await command("EHLO \(configuration.heloName)", "EHLO")
        }
        if let username = configuration.username {
            let password = configuration.password ?? ""
            let mechanisms = SMTPProtocol.extensions(of: ehlo)["AUTH"] ?? []
            if mechanisms.contains("PLAIN") {
                let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
                _ = try await command("AUTH PLAIN \(token)", "AUTH")
            } else if mechanisms.contains("LOGIN") {
                _ = try await command("AUTH LOGIN", "AUTH")
                _ = try await command(Data(username.utf8).base64EncodedString(), "AUTH")
                _ = try await command(Data(password.utf8).base64EncodedString(), "AUTH")
            } else {
                throw SMTPError(message: "SMTP \(configuration.host) offers no AUTH PLAIN or LOGIN (it offers: \(mechanisms.joined(separator: " ")))", reply: ehlo, isTransient: false)
            }
        }
        _ = try await command("MAIL FROM:<\(sender)>", "MAIL FROM")
        for recipient in recipients { _ = try await command("RCPT TO:<\(recipient)>", "RCPT TO <\(recipient)>") }
        _ = try await command("DATA")
        try await channel.writeAndFlush(ByteBuffer(bytes: SMTPProtocol.dataPayload(message)))
        let accepted = try expect(try await next(), "message")
        try? await channel.writeAndFlush(ByteBuffer(string: "QUIT\r\n"))
        return accepted
    }

    private static func tlsHandler(_ configuration: SMTPConfiguration) throws -> NIOSSLClientHandler {
        let isAddress = configuration.host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        return try NIOSSLClientHandler(context: NIOSSLContext(configuration: configuration.tls), serverHostname: isAddress ? nil : configuration.host)
    }
}

/// Splits the byte stream into lines and lines into replies.
private final class SMTPReplyDecoder: ByteToMessageDecoder, @unchecked Sendable {
    typealias InboundOut = Never
    private var reader = SMTPProtocol.ReplyReader()
    private let continuation: AsyncStream<Result<SMTPProtocol.Reply, SMTPProtocolError>>.Continuation

    init(continuation: AsyncStream<Result<SMTPProtocol.Reply, SMTPProtocolError>>.Continuation) {
        self.continuation = continuation
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 4096 { continuation.yield(.failure(SMTPProtocolError("a reply line is longer than 4096 bytes"))) }
            return .needMoreData
        }
        let length = view.distance(from: view.startIndex, to: newline) + 1
        guard var bytes = buffer.readBytes(length: length) else { return .needMoreData }
        // Bytes, not Characters: "\r\n" is one Character in Swift.
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        let line = String(decoding: bytes, as: UTF8.self)
        do {
            if let reply = try reader.add(line) { continuation.yield(.success(reply)) }
        } catch {
            continuation.yield(.failure(error))
        }
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    func decoderRemoved(context: ChannelHandlerContext) {
        continuation.finish()
    }
}

/// Closes the connection when the server said nothing for the reply timeout.
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = Never

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
