import CallgateCLI
import CallgateServer
import CallgateTesting
import Foundation
import Testing

/// The SendApprovalEmail action through the bundled approval-email plugin (its hooks reached
/// through the C ABI): real mails (over SMTP to a real server, or as `.eml` files in the outbox),
/// read back with Python's e-mail parser, and their links followed over HTTPS.
@Suite struct ApprovalEmailTests {
    static func definition(
        to: String, options: String = "Approve, Reject", required: String = "first", timeout: String = "PT1H", extraInputs: String = ""
    ) -> String {
        """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Ask": {"type": "SendApprovalEmail", "limit": {"timeout": "\(timeout)"},
                   "inputs": {"To": "\(to)", "Subject": "Deploy @{triggerBody()?['version']}?", "Body": "Release notes: <b>@{triggerBody()?['notes']}</b>",
                              "Options": "\(options)", "RequiredApprovals": "\(required)", "Importance": "High",
                              "HeaderText": "Production change", "SelectionText": "Your decision:"\(extraInputs)}},
           "Decided": {"type": "Compose", "runAfter": {"Ask": ["Succeeded"]},
                       "inputs": "@{body('Ask')?['SelectedOption']} by @{body('Ask')?['UserEmailAddress']}"},
           "NoAnswer": {"type": "Compose", "runAfter": {"Ask": ["TimedOut"]}, "inputs": "Reject (no answer)"}
         }}}
        """
    }

    /// A mail as Python's e-mail parser reads it, with the links of its text part.
    struct ReadMail {
        let fields: [String: Any]
        var subject: String { fields["subject"] as? String ?? "" }
        var to: String { fields["to"] as? String ?? "" }
        var text: String { fields["text"] as? String ?? "" }
        var html: String { fields["html"] as? String ?? "" }
        /// Option → link, from the text part's `Option: URL` lines.
        var links: [String: String] { fields["links"] as? [String: String] ?? [:] }
    }

    static let readerScript = #"""
    import email, email.policy, json, re, sys
    m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
    text = m.get_body(preferencelist=("plain",)).get_content()
    html = m.get_body(preferencelist=("html",)).get_content()
    links = dict(re.findall(r"^(.+?): (https://\S+)$", text, re.M))
    print(json.dumps({"subject": m["subject"], "to": m["to"], "from": m["from"], "importance": m["importance"],
                      "text": text, "html": html, "links": links}))
    """#

    static func read(_ path: String) throws -> ReadMail {
        let script = NSTemporaryDirectory() + "read_mail_\(UUID().uuidString).py"
        try readerScript.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let output = try SMTPTestServer.run(["python3", script, path], in: NSTemporaryDirectory())
        return ReadMail(fields: try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:])
    }

    /// The outbox's mails, by recipient, once `count` are there.
    static func outboxMails(_ gateway: TestGateway, count: Int) async throws -> [String: ReadMail] {
        let outbox = gateway.directory.path + "/data/outbox"
        let files = try await WaitingStepTests.eventually { () -> [String]? in
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []).filter { $0.hasSuffix(".eml") }
            return names.count >= count ? names : nil
        }
        var mails: [String: ReadMail] = [:]
        for file in files {
            let mail = try read(outbox + "/" + file)
            mails[mail.to] = mail
        }
        return mails
    }

    static func post(_ gateway: TestGateway, _ link: String, comments: String = "", json: Bool = false) async throws -> TestResponse {
        let body = "comments=" + (comments.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        return try await gateway.request(
            .POST, link, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", json ? "application/json" : "text/html")],
            body: Array(body.utf8)
        )
    }

    static func startGateway() async throws -> TestGateway {
        try await TestGateway.start(bundledPlugins: BundledPlugins.all)
    }

    /// A gateway that mails through `smtp` with AUTH, trusting its certificate.
    static func startGateway(mailingThrough smtp: SMTPTestServer, security: String, from: String) async throws -> TestGateway {
        try await TestGateway.start(bundledPlugins: BundledPlugins.all) { configuration in
            configuration.smtp.host = "127.0.0.1"
            configuration.smtp.port = smtp.port
            configuration.smtp.security = security
            configuration.smtp.username = "mailer"
            configuration.smtp.password = "s3cret"
            configuration.smtp.from = from
            configuration.smtp.caFile = smtp.certificatePath
        }
    }

    // MARK: SMTP

    @Test func theMailGoesOverSTARTTLSAndItsLinkConfirmedByPOSTResumesTheRun() async throws {
        try await SMTPTestServer.withServer("starttls", test: "theMailGoesOverSTARTTLSAndItsLinkConfirmedByPOSTResumesTheRun") { smtp in
            let gateway = try await Self.startGateway(mailingThrough: smtp, security: "starttls", from: "Callgate Approvals <approvals@example.com>")
            try await gateway.deploy("deploy", Self.definition(to: "ada@example.com; Grace Hopper <grace@example.com>"))
            let (runID, _) = try await gateway.trigger("deploy", json: #"{"version": "2.4.1", "notes": "faster builds"}"#)
            _ = try await gateway.waitForRun(runID) { $0.status(of: "Ask") == "Waiting" }

            // One message per recipient, each over TLS from the configured sender.
            #expect(smtp.messageCount == 2)
            var mails: [String: ReadMail] = [:]
            for index in 0..<2 {
                let (envelope, _) = try smtp.message(index)
                #expect(envelope["from"] as? String == "approvals@example.com")
                #expect(envelope["tls"] as? Bool == true)
                let mail = try Self.read(smtp.mailbox + "/\(index).eml")
                mails[(envelope["to"] as? [String])?.first ?? "?"] = mail
            }
            let ada = try #require(mails["ada@example.com"])
            let grace = try #require(mails["grace@example.com"])
            #expect(ada.subject == "Deploy 2.4.1?")
            #expect(ada.fields["importance"] as? String == "high")
            #expect(ada.fields["from"] as? String == "Callgate Approvals <approvals@example.com>")
            #expect(grace.to == "Grace Hopper <grace@example.com>")
            #expect(ada.text.contains("Release notes: faster builds"))
            #expect(ada.html.contains("<b>faster builds</b>"))
            #expect(ada.html.contains("Production change"))
            #expect(Set(ada.links.keys) == ["Approve", "Reject"])
            // Four distinct links: one per recipient and option.
            #expect(Set(Array(ada.links.values) + Array(grace.links.values)).count == 4)

            // GET shows the confirmation page and decides nothing.
            let approve = try #require(grace.links["Approve"])
            let page = try await gateway.request(.GET, approve, headers: [("Accept", "text/html")])
            #expect(page.status == 200)
            #expect(page.headers.first(name: "Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.text.contains("Deploy 2.4.1?"))
            #expect(page.text.contains("grace@example.com"))
            #expect(page.text.contains("Confirm: Approve"))
            #expect(page.text.contains(#"<label for="comments">"#))
            #expect(try await gateway.run(runID).status(of: "Ask") == "Waiting")

            let recorded = try await Self.post(gateway, approve, comments: "Ship it & watch the dashboards")
            #expect(recorded.status == 200)
            #expect(recorded.text.contains("Your response was recorded"))
            let run = try await gateway.waitForRun(runID)
            #expect(run.status == "Succeeded")
            let outputs = try #require(run.outputs(of: "Ask") as? [String: Any])
            #expect(outputs["SelectedOption"] as? String == "Approve")
            #expect(outputs["UserEmailAddress"] as? String == "grace@example.com")
            #expect(outputs["Comments"] as? String == "Ship it & watch the dashboards")
            #expect((outputs["RespondedAt"] as? String)?.hasSuffix("Z") == true)
            #expect(run.outputs(of: "Decided") as? String == "Approve by grace@example.com")
            #expect(run.status(of: "NoAnswer") == "Skipped")
            try await gateway.stopAndRemove()
        }
    }

    @Test func aPassingSMTPRefusalIsRetriedAndAFinalOneFailsTheStepWithTheServersReply() async throws {
        try await SMTPTestServer.withServer("tls", test: "aPassingSMTPRefusalIsRetriedAndAFinalOneFailsTheStepWithTheServersReply") { smtp in
            let gateway = try await Self.startGateway(mailingThrough: smtp, security: "tls", from: "approvals@example.com")
            let retry = #", "retryPolicy": {"type": "fixed", "count": 2, "interval": "PT1S"}"#
            // busy@ is refused once with 451: the retry sends only to it; ada@ is not mailed twice.
            try await gateway.deploy("busy", Self.definition(to: "ada@example.com; busy@example.com", extraInputs: retry))
            let (busyRun, _) = try await gateway.trigger("busy", json: #"{"version": "1"}"#)
            let waiting = try await gateway.waitForRun(busyRun) { $0.status(of: "Ask") == "Waiting" }
            #expect(smtp.messageCount == 2)
            let recipients = try (0..<2).compactMap { try smtp.message($0).envelope["to"] as? [String] }
            #expect(recipients.sorted { $0[0] < $1[0] } == [["ada@example.com"], ["busy@example.com"]])
            #expect(waiting.status(of: "Ask") == "Waiting")

            // nobody@ is refused with 550: the step fails with the server's reply, no retry.
            try await gateway.deploy("nobody", Self.definition(to: "nobody@example.com", extraInputs: retry))
            let (failedRun, _) = try await gateway.trigger("nobody", json: #"{"version": "2"}"#)
            let failed = try await gateway.waitForRun(failedRun)
            #expect(failed.status == "Failed")
            let error = try #require(failed.action("Ask")?["error"] as? [String: Any])
            #expect(error["code"] as? String == "SubscribeFailed")
            #expect((error["message"] as? String)?.contains("550") == true, "\(error)")
            #expect(smtp.messageCount == 2)
            try await gateway.stopAndRemove()
        }
    }

    // MARK: Outbox, decisions

    @Test func withoutSMTPTheMailsLandInTheOutboxAndTheFirstResponseDecides() async throws {
        let gateway = try await Self.startGateway()
        try await gateway.deploy("deploy", Self.definition(to: "ada@example.com;bob@example.com"))
        let (runID, _) = try await gateway.trigger("deploy", json: #"{"version": "3.0"}"#)
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Ask") == "Waiting" }
        let mails = try await Self.outboxMails(gateway, count: 2)
        let ada = try #require(mails["ada@example.com"])
        let bob = try #require(mails["bob@example.com"])

        // Prefetching every link (as mail scanners do) changes nothing.
        for link in Array(ada.links.values) + Array(bob.links.values) {
            #expect(try await gateway.request(.GET, link).status == 200)
            #expect(try await gateway.request(.GET, link, headers: [("Accept", "application/json")]).status == 200)
        }
        let untouched = try await gateway.run(runID)
        #expect(untouched.status(of: "Ask") == "Waiting")

        // Bob rejects first; a double click is told it counted; Ada is told the request is decided.
        let reject = try #require(bob.links["Reject"])
        #expect(try await Self.post(gateway, reject, comments: "not on a Friday").status == 200)
        let again = try await Self.post(gateway, reject)
        #expect(again.status == 200)
        #expect(again.text.contains("already recorded"))
        let late = try await Self.post(gateway, try #require(ada.links["Approve"]), comments: "yes")
        #expect(late.status == 409)
        #expect(late.text.contains("already decided"))
        #expect(late.text.contains("Reject"))
        let decidedPage = try await gateway.request(.GET, try #require(ada.links["Approve"]))
        #expect(decidedPage.status == 200)
        #expect(decidedPage.text.contains("already decided"))

        let run = try await gateway.waitForRun(runID)
        let outputs = try #require(run.outputs(of: "Ask") as? [String: Any])
        #expect(outputs["SelectedOption"] as? String == "Reject")
        #expect(outputs["UserEmailAddress"] as? String == "bob@example.com")
        #expect(outputs["Comments"] as? String == "not on a Friday")
        #expect((outputs["Responses"] as? [[String: Any]])?.count == 1)
        #expect(run.outputs(of: "Decided") as? String == "Reject by bob@example.com")
        try await gateway.stopAndRemove()
    }

    @Test func concurrentChoicesResumeTheRunOnceAndTheLaterOnesAreToldSo() async throws {
        let gateway = try await Self.startGateway()
        let recipients = (1...6).map { "r\($0)@example.com" }
        try await gateway.deploy("race", Self.definition(to: recipients.joined(separator: ";")))
        let (runID, _) = try await gateway.trigger("race", json: #"{"version": "4"}"#)
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Ask") == "Waiting" }
        let mails = try await Self.outboxMails(gateway, count: recipients.count)
        // Every recipient submits at once, half approving, half rejecting, each twice.
        let links = recipients.enumerated().compactMap { index, address in mails[address]?.links[index.isMultiple(of: 2) ? "Approve" : "Reject"] }
        #expect(links.count == recipients.count)
        let statuses = try await withThrowingTaskGroup(of: (String, Int).self) { group in
            for link in links + links {
                group.addTask { (link, try await Self.post(gateway, link, json: true).status) }
            }
            var result: [(String, Int)] = []
            for try await answer in group { result.append(answer) }
            return result
        }
        let run = try await gateway.waitForRun(runID)
        let outputs = try #require(run.outputs(of: "Ask") as? [String: Any])
        let winner = try #require(outputs["UserEmailAddress"] as? String)
        let winningLink = try #require(links.first { mails[winner]?.links.values.contains($0) == true })
        // The winner's two submits both got 200; everyone else got 409; the run resumed once.
        for (link, status) in statuses {
            #expect(status == (link == winningLink ? 200 : 409), "\(link): \(status)")
        }
        #expect((outputs["Responses"] as? [[String: Any]])?.count == 1)
        #expect(run.actions.filter { $0["name"] as? String == "Decided" }.count == 1)
        #expect(run.status == "Succeeded")
        try await gateway.stopAndRemove()
    }

    @Test func withAllEveryoneMustChooseTheFirstOptionAndAnyOtherDecidesAtOnce() async throws {
        let first = try await Self.startGateway()
        try await first.deploy("all", Self.definition(to: "a@example.com; b@example.com; c@example.com", required: "all"))

        let (approvedRun, _) = try await first.trigger("all", json: #"{"version": "5"}"#)
        _ = try await first.waitForRun(approvedRun) { $0.status(of: "Ask") == "Waiting" }
        var mails = try await Self.outboxMails(first, count: 3)
        // A waiting approval is rows only: the gateway restarts between the first response and the others.
        let firstAnswer = try await Self.post(first, try #require(mails["a@example.com"]?.links["Approve"]), comments: "ok 0")
        #expect(firstAnswer.status == 200)
        #expect(firstAnswer.text.contains("Waiting for 2 more"))
        try await first.stop()
        let gateway = try await TestGateway.start(directory: first.directory, bundledPlugins: BundledPlugins.all)
        for (index, address) in ["a@example.com", "b@example.com", "c@example.com"].enumerated() {
            let answer = try await Self.post(gateway, try #require(mails[address]?.links["Approve"]), comments: "ok \(index)")
            #expect(answer.status == 200)
            if index == 0 {
                #expect(answer.text.contains("already recorded"))
            } else if index < 2 {
                #expect(answer.text.contains("Waiting for 1 more"))
                #expect(try await gateway.run(approvedRun).status(of: "Ask") == "Waiting")
                // Changing one's mind is refused while the others are awaited.
                let change = try await Self.post(gateway, try #require(mails[address]?.links["Reject"]))
                #expect(change.status == 409)
            }
        }
        let approved = try await gateway.waitForRun(approvedRun)
        let outputs = try #require(approved.outputs(of: "Ask") as? [String: Any])
        #expect(outputs["SelectedOption"] as? String == "Approve")
        let responses = try #require(outputs["Responses"] as? [[String: Any]])
        #expect(responses.compactMap { $0["UserEmailAddress"] as? String } == ["a@example.com", "b@example.com", "c@example.com"])
        #expect(responses.compactMap { $0["Comments"] as? String } == ["ok 0", "ok 1", "ok 2"])

        // A second run: one approval, then a rejection decides at once.
        let outbox = gateway.directory.path + "/data/outbox"
        for file in try FileManager.default.contentsOfDirectory(atPath: outbox) { try FileManager.default.removeItem(atPath: outbox + "/" + file) }
        let (rejectedRun, _) = try await gateway.trigger("all", json: #"{"version": "6"}"#)
        _ = try await gateway.waitForRun(rejectedRun) { $0.status(of: "Ask") == "Waiting" }
        mails = try await Self.outboxMails(gateway, count: 3)
        #expect(try await Self.post(gateway, try #require(mails["a@example.com"]?.links["Approve"])).status == 200)
        #expect(try await Self.post(gateway, try #require(mails["b@example.com"]?.links["Reject"]), comments: "no").status == 200)
        let rejected = try await gateway.waitForRun(rejectedRun)
        let rejection = try #require(rejected.outputs(of: "Ask") as? [String: Any])
        #expect(rejection["SelectedOption"] as? String == "Reject")
        #expect(rejection["UserEmailAddress"] as? String == "b@example.com")
        #expect((rejection["Responses"] as? [[String: Any]])?.count == 2)
        #expect(try await Self.post(gateway, try #require(mails["c@example.com"]?.links["Approve"])).status == 409)
        try await gateway.stopAndRemove()
    }

    @Test func aTimeoutTakesTheTimedOutBranchAndCancelledOrExpiredLinksAnswer410() async throws {
        let gateway = try await Self.startGateway()
        try await gateway.deploy("short", Self.definition(to: "ada@example.com", timeout: "PT2S"))
        let (timedOutRun, _) = try await gateway.trigger("short", json: #"{"version": "7"}"#)
        let mails = try await Self.outboxMails(gateway, count: 1)
        let run = try await gateway.waitForRun(timedOutRun)
        #expect(run.status(of: "Ask") == "TimedOut")
        #expect(run.outputs(of: "NoAnswer") as? String == "Reject (no answer)")
        #expect(run.status(of: "Decided") == "Skipped")
        let expired = try await Self.post(gateway, try #require(mails["ada@example.com"]?.links["Approve"]))
        #expect(expired.status == 410)
        #expect(expired.text.contains("expired"))

        try await gateway.deploy("cancel", Self.definition(to: "grace@example.com"))
        let (cancelledRun, _) = try await gateway.trigger("cancel", json: #"{"version": "8"}"#)
        _ = try await gateway.waitForRun(cancelledRun) { $0.status(of: "Ask") == "Waiting" }
        let grace = try #require(try await Self.outboxMails(gateway, count: 2)["grace@example.com"])
        #expect(try await gateway.admin(.POST, "/api/v1/runs/\(cancelledRun):cancel").status == 200)
        let link = try #require(grace.links["Approve"])
        let cancelledPage = try await gateway.request(.GET, link)
        #expect(cancelledPage.status == 410)
        #expect(cancelledPage.text.contains("cancelled"))
        #expect(try await Self.post(gateway, link).status == 410)
        #expect(try await gateway.run(cancelledRun).status == "Cancelled")

        // A link cut or edited on its way is refused before any lookup, with a page for browsers.
        let tampered = link.replacingOccurrences(of: "sig=", with: "sig=x")
        let refused = try await gateway.request(.GET, tampered, headers: [("Accept", "text/html")])
        #expect(refused.status == 401)
        #expect(refused.text.contains("This link is not valid"))
        #expect(try await gateway.request(.GET, tampered).body.isEmpty)
        try await gateway.stopAndRemove()
    }

    @Test func badInputsFailTheStepNamingTheInput() async throws {
        let gateway = try await Self.startGateway()
        try await gateway.deploy("bad", Self.definition(to: "ada@example.com; not-an-address"))
        let (runID, _) = try await gateway.trigger("bad", json: "{}")
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Failed")
        let error = try #require(run.action("Ask")?["error"] as? [String: Any])
        #expect((error["message"] as? String)?.hasSuffix("inputs.To: 'not-an-address' is not an e-mail address") == true, "\(error)")

        try await gateway.deploy("mode", Self.definition(to: "ada@example.com", required: "most"))
        let (modeRun, _) = try await gateway.trigger("mode", json: "{}")
        let mode = try await gateway.waitForRun(modeRun)
        let modeError = (mode.action("Ask")?["error"] as? [String: Any])?["message"] as? String
        #expect(modeError?.hasSuffix("inputs.RequiredApprovals is 'most'; use first or all") == true, "\(modeError ?? "no error")")
        try await gateway.stopAndRemove()
    }
}
