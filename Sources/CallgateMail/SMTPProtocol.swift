/// The parts of SMTP (RFC 5321) that are pure text: reading replies and preparing DATA.
public enum SMTPProtocol {
    /// One reply: its code and its text lines (a multi-line reply is `250-…` lines ending with
    /// `250 …`).
    public struct Reply: Sendable, Equatable {
        public var code: Int
        public var lines: [String]

        public init(code: Int, lines: [String]) {
            self.code = code
            self.lines = lines
        }

        /// 2xx and 3xx move on; 4xx may pass on a later attempt; 5xx will not.
        public var isPositive: Bool { code < 400 }
        public var isTransient: Bool { (400..<500).contains(code) }

        /// `code text` as the server said it, lines joined by " / ".
        public var text: String { "\(code) " + lines.joined(separator: " / ") }
    }

    /// Collects reply lines (CRLF stripped) until a reply is complete.
    public struct ReplyReader: Sendable {
        private var code: Int?
        private var lines: [String] = []

        public init() {}

        /// Adds one line; returns the reply when this line ended it. Throws on a line that is not
        /// a reply line or whose code differs from the lines before it.
        public mutating func add(_ line: String) throws(SMTPProtocolError) -> Reply? {
            let characters = Array(line.utf8)
            guard characters.count >= 3, let code = Int(String(decoding: characters[0..<3], as: UTF8.self)), (200...599).contains(code) else {
                throw SMTPProtocolError("not an SMTP reply line: \(line.prefix(80))")
            }
            if let earlier = self.code, earlier != code { throw SMTPProtocolError("a multi-line reply changed its code from \(earlier) to \(code)") }
            let separator: UInt8? = characters.count > 3 ? characters[3] : nil
            guard separator == nil || separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
                throw SMTPProtocolError("not an SMTP reply line: \(line.prefix(80))")
            }
            self.code = code
            lines.append(characters.count > 4 ? String(decoding: characters[4...], as: UTF8.self) : "")
            guard separator != UInt8(ascii: "-") else { return nil }
            defer { self = ReplyReader() }
            return Reply(code: code, lines: lines)
        }
    }

    /// The DATA payload: line ends made CRLF, every line starting with "." given another (RFC
    /// 5321 §4.5.2), ended by `CRLF.CRLF`.
    public static func dataPayload(_ message: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(message.count + 64)
        var atLineStart = true
        var previous: UInt8 = 0
        for byte in message {
            if byte == UInt8(ascii: "\n") && previous != UInt8(ascii: "\r") { output.append(UInt8(ascii: "\r")) }
            if atLineStart && byte == UInt8(ascii: ".") { output.append(UInt8(ascii: ".")) }
            output.append(byte)
            atLineStart = byte == UInt8(ascii: "\n")
            previous = byte
        }
        if !atLineStart { output += Array("\r\n".utf8) }
        output += Array(".\r\n".utf8)
        return output
    }

    /// The extensions an EHLO reply names (`STARTTLS`, `AUTH PLAIN LOGIN`, `SIZE 35882577`), by
    /// upper-cased keyword.
    public static func extensions(of reply: Reply) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ").map(String.init)
            guard let keyword = words.first else { continue }
            result[keyword.uppercased()] = Array(words.dropFirst()).map { $0.uppercased() }
        }
        return result
    }
}

/// The server broke the protocol.
public struct SMTPProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
