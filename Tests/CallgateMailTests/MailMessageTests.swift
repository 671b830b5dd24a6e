import CallgateMail
import Foundation
import Testing

@Suite struct MailMessageTests {
    static let message = MailMessage(
        from: MailAddress("Callgate <approvals@example.com>")!,
        to: [MailAddress("Zoë Müller <zoe@example.com>")!, MailAddress("lead@example.com")!],
        subject: "Approve order 42 — 2 500 € for Zoë?",
        text: "Please choose:\n.Approve https://x/cb/1\n",
        html: "<p>Please choose: <a href=\"https://x/cb/1\">Approve</a></p>",
        headers: [("Importance", "High")]
    )

    /// Python's own e-mail parser (a real, independent reader) reads back what was written.
    @Test func pythonsMailParserReadsTheMessageBack() throws {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("skipped pythonsMailParserReadsTheMessageBack: python3 is not installed (.ci/run installs it)")
            return
        }
        let bytes = Self.message.rendered(date: Date(timeIntervalSince1970: 1_800_000_000), messageID: "m1@example.com", boundary: "b-1")
        let script = """
        import email, email.policy, json, sys
        m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
        parts = {p.get_content_type(): p.get_content() for p in m.walk() if not p.is_multipart()}
        print(json.dumps({"subject": str(m["subject"]), "to": [a.addr_spec for a in m["to"].addresses],
                          "names": [a.display_name for a in m["to"].addresses], "from": m["from"].addresses[0].addr_spec,
                          "importance": m["importance"], "type": m.get_content_type(), "parts": parts, "date": m["date"].datetime.timestamp()}))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let parsed = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
        #expect(parsed["subject"] as? String == Self.message.subject)
        #expect(parsed["to"] as? [String] == ["zoe@example.com", "lead@example.com"])
        #expect(parsed["names"] as? [String] == ["Zoë Müller", ""])
        #expect(parsed["from"] as? String == "approvals@example.com")
        #expect(parsed["importance"] as? String == "High")
        #expect(parsed["type"] as? String == "multipart/alternative")
        #expect(parsed["date"] as? Double == 1_800_000_000)
        let parts = try #require(parsed["parts"] as? [String: String])
        #expect(parts["text/plain"] == Self.message.text)
        #expect(parts["text/html"] == Self.message.html.map { $0 + "" })
    }

    @Test func linesStayWithinTheLimits() {
        let long = MailMessage(
            from: MailAddress("a@example.com")!, to: (1...12).map { MailAddress("person\($0)@example.com")! },
            subject: String(repeating: "é", count: 80), text: String(repeating: "x", count: 500)
        )
        let text = String(decoding: long.rendered(date: Date(), messageID: "m@x", boundary: "b"), as: UTF8.self)
        for line in text.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 78, "\(line)") }
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test func addressListsAreSplitLikeOffice365AndBadEntriesNamed() throws {
        #expect(try MailAddress.list("a@x.com; Bee <b@y.org>,c@z.net").map(\.address) == ["a@x.com", "b@y.org", "c@z.net"])
        #expect(throws: MailAddressError(entry: "not-an-address")) { try MailAddress.list("a@x.com;not-an-address") }
        #expect(MailAddress("a@x.com\r\nBcc: evil@x.com") == nil)
    }
}

@Suite struct SMTPProtocolTests {
    @Test func multiLineRepliesAreCollected() throws {
        var reader = SMTPProtocol.ReplyReader()
        #expect(try reader.add("250-mail.example.com greets you") == nil)
        #expect(try reader.add("250-STARTTLS") == nil)
        #expect(try reader.add("250-AUTH PLAIN LOGIN") == nil)
        let reply = try #require(try reader.add("250 SIZE 10240000"))
        #expect(reply.code == 250)
        #expect(SMTPProtocol.extensions(of: reply) == ["STARTTLS": [], "AUTH": ["PLAIN", "LOGIN"], "SIZE": ["10240000"]])
        #expect(try reader.add("451 4.3.0 try again later")?.isTransient == true)
        #expect(try reader.add("220") == SMTPProtocol.Reply(code: 220, lines: [""]))
        #expect(throws: SMTPProtocolError.self) { try reader.add("hello") }
        #expect(throws: SMTPProtocolError.self) {
            var mixed = SMTPProtocol.ReplyReader()
            _ = try mixed.add("250-first")
            _ = try mixed.add("550 second")
        }
    }

    @Test func dataIsDotStuffedAndTerminated() {
        let payload = String(decoding: SMTPProtocol.dataPayload(Array(".hidden\r\nline\n..two\r\nend".utf8)), as: UTF8.self)
        #expect(payload == "..hidden\r\nline\r\n...two\r\nend\r\n.\r\n")
    }
}
