import Foundation

/// One e-mail as it goes on the wire (RFC 5322 headers, RFC 2045 MIME): plain text and HTML
/// alternatives, non-ASCII header text as RFC 2047 encoded words, CRLF line ends.
public struct MailMessage: Sendable, Equatable {
    public var from: MailAddress
    public var to: [MailAddress]
    public var subject: String
    public var text: String
    /// The HTML alternative; nil sends text only.
    public var html: String?
    /// Further header fields (`Importance`, `X-Priority`, …), in this order.
    public var headers: [(name: String, value: String)]

    public init(from: MailAddress, to: [MailAddress], subject: String, text: String, html: String? = nil, headers: [(name: String, value: String)] = []) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.headers = headers
    }

    public static func == (lhs: MailMessage, rhs: MailMessage) -> Bool {
        lhs.from == rhs.from && lhs.to == rhs.to && lhs.subject == rhs.subject && lhs.text == rhs.text && lhs.html == rhs.html
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    /// The message bytes (before SMTP dot-stuffing). `messageID` and `boundary` are given so the
    /// output is reproducible; a sender makes them unique.
    public func rendered(date: Date, messageID: String, boundary: String) -> [UInt8] {
        var lines: [String] = []
        lines.append("Date: " + Self.rfc5322Date(date))
        lines.append("From: " + from.headerValue)
        lines.append(Self.fold("To: " + to.map(\.headerValue).joined(separator: ", ")))
        lines.append(Self.fold("Subject: " + Self.encodedWords(subject)))
        lines.append("Message-ID: <\(messageID)>")
        for header in headers { lines.append(Self.fold("\(header.name): " + Self.encodedWords(header.value))) }
        lines.append("MIME-Version: 1.0")
        if let html {
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("This is a multi-part message in MIME format.")
            for (type, body) in [("text/plain", text), ("text/html", html)] {
                lines.append("--" + boundary)
                lines.append("Content-Type: \(type); charset=utf-8")
                lines.append("Content-Transfer-Encoding: base64")
                lines.append("")
                lines.append(contentsOf: Self.base64Lines(body))
            }
            lines.append("--" + boundary + "--")
        } else {
            lines.append("Content-Type: text/plain; charset=utf-8")
            lines.append("Content-Transfer-Encoding: base64")
            lines.append("")
            lines.append(contentsOf: Self.base64Lines(text))
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// `Sun, 29 Nov 2026 07:00:00 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// Text as is when it is printable ASCII, else RFC 2047 `=?utf-8?B?…?=` words of at most 75
    /// characters, split between characters (never inside a UTF-8 sequence).
    static func encodedWords(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            // 45 bytes → 60 base64 characters; with "=?utf-8?B?" and "?=" a word stays under 75.
            if chunk.count + bytes.count > 45 {
                words.append("=?utf-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?utf-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: " ")
    }

    /// Folds a header line at spaces so no line passes 78 characters (RFC 5322 §2.1.1).
    static func fold(_ line: String) -> String {
        guard line.count > 78 else { return line }
        var result: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if !current.isEmpty, current.count + 1 + word.count > 78 {
                result.append(current)
                current = String(word)
            } else {
                current += (current.isEmpty ? "" : " ") + word
            }
        }
        result.append(current)
        return result.joined(separator: "\r\n ")
    }

    /// Base64 of the UTF-8 text in lines of 76 characters (RFC 2045 §6.8).
    static func base64Lines(_ text: String) -> [String] {
        let encoded = Data(text.utf8).base64EncodedString()
        var lines: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return lines
    }
}

/// An address with an optional display name: `Ada Lovelace <ada@example.com>`.
public struct MailAddress: Sendable, Equatable {
    public var address: String
    public var name: String?

    /// Parses `ada@example.com` or `Ada <ada@example.com>`; nil when it is not an address.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var address = trimmed
        var name: String?
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            let display = trimmed[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            name = display.isEmpty ? nil : display
        }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !address.contains(where: { $0 == " " || $0 == "<" || $0 == ">" || $0 == "\r" || $0 == "\n" || $0 == "," || $0 == ";" })
        else { return nil }
        self.address = address
        self.name = name
    }

    /// Addresses separated by `;` or `,` (Office 365 takes `a@x.com;b@y.com`). Throws naming
    /// the first entry that is not an address.
    public static func list(_ text: String) throws(MailAddressError) -> [MailAddress] {
        var result: [MailAddress] = []
        for entry in text.split(whereSeparator: { $0 == ";" || $0 == "," }) {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let address = MailAddress(trimmed) else { throw MailAddressError(entry: trimmed) }
            result.append(address)
        }
        return result
    }

    var headerValue: String {
        guard let name else { return address }
        let quoted = name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
            ? "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            : MailMessage.encodedWords(name)
        return "\(quoted) <\(address)>"
    }
}

/// An entry of an address list that is not an address.
public struct MailAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var entry: String

    public init(entry: String) {
        self.entry = entry
    }
    public var description: String { "'\(entry)' is not an e-mail address" }
}
