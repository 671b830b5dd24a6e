import ConnectorKit
import Foundation
import Mustache

/// One recipient's recorded choice.
struct ApprovalResponse: Sendable, Equatable {
    var email: String
    var option: String
    var comments: String
    var respondedAt: String

    var json: JSONValue {
        ["UserEmailAddress": .string(email), "SelectedOption": .string(option), "Comments": .string(comments), "RespondedAt": .string(respondedAt)]
    }

    init(email: String, option: String, comments: String, respondedAt: String) {
        self.email = email
        self.option = option
        self.comments = comments
        self.respondedAt = respondedAt
    }

    init?(_ value: JSONValue) {
        guard let email = value["UserEmailAddress"]?.string, let option = value["SelectedOption"]?.string else { return nil }
        self.init(email: email, option: option, comments: value["Comments"]?.string ?? "", respondedAt: value["RespondedAt"]?.string ?? "")
    }
}

/// A call to one approval link (`handle_callback` with `"kind": "link"`), answered from the
/// step's snapshot alone: GET shows the confirmation page and never decides (mail scanners
/// prefetch links); POST records the choice. The host commits the decision only if the step is
/// unchanged since the snapshot, so a second, concurrent choice is answered again from the state
/// the first committed.
struct ApprovalLinkCall {
    static let maximumCommentLength = 4000

    let request: JSONValue
    let body: [UInt8]
    let templates: MustacheLibrary
    /// The host's clock, for `RespondedAt`.
    let now: Date

    /// The answer for `handle_callback`: `{"decision", "outputs"?, "state"?, "reply"}`.
    func answer() -> JSONValue {
        let step = request["step"]
        let status = step?["status"]?.string ?? ""
        let subscription = step?["subscribeResponse"]
        guard let summary = ApprovalSummary(subscription?["request"]) else {
            // The mails are still going out (or were never sent): the step records them last.
            if status == "Running" || status == "Queued" {
                return page(503, "This request is still being sent", "Please try again in a moment.", subject: "Approval request", headers: ["Retry-After": "2"])
            }
            return gone(status, subject: "Approval request")
        }
        guard let linkID = request["callbackId"]?.string, let link = subscription?["links"]?[linkID],
              let recipient = link["to"]?.string, let option = link["option"]?.string
        else {
            return page(410, "This link is no longer valid", "A newer mail replaced the one this link came from.", subject: summary.subject)
        }
        let method = request["method"]?.string?.uppercased() ?? "GET"
        let responses = Self.responses(in: step?["state"])
        switch status {
        case "Waiting":
            break
        case "Succeeded":
            return decided(outputs: step?["outputs"], recipient: recipient, option: option, responses: responses, method: method, summary: summary)
        case "Running", "Queued":
            return page(503, "This request is still being sent", "Please try again in a moment.", subject: summary.subject, headers: ["Retry-After": "2"])
        default:
            return gone(status, subject: summary.subject)
        }
        if let earlier = responses.first(where: { $0.email.lowercased() == recipient.lowercased() }) {
            return alreadyResponded(earlier, option: option, method: method, summary: summary)
        }
        switch method {
        case "GET", "HEAD":
            return confirmation(recipient: recipient, option: option, summary: summary)
        case "POST":
            return record(ApprovalResponse(email: recipient, option: option, comments: comments(), respondedAt: Self.timestamp(now)), responses: responses, summary: summary)
        default:
            return page(405, "Use the link in your mail", "Open the link in a browser and confirm there.", subject: summary.subject, headers: ["Allow": "GET, POST"])
        }
    }

    // MARK: Deciding

    private func record(_ response: ApprovalResponse, responses: [ApprovalResponse], summary: ApprovalSummary) -> JSONValue {
        let all = responses + [response]
        let state: JSONValue = ["responses": .array(all.map(\.json))]
        let decides: Bool
        switch summary.requiredApprovals {
        case .first:
            decides = true
        case .all:
            // Any option but the first decides at once; the first decides when everyone chose it.
            let answered = Set(all.map { $0.email.lowercased() })
            decides = response.option != summary.options.first || summary.recipients.allSatisfy { answered.contains($0.lowercased()) }
        }
        guard decides else {
            let waiting = summary.recipients.count - all.count
            return answer(
                decision: "wait", state: state,
                reply: pageReply(200, "Your response was recorded", "You chose \(response.option). Waiting for \(waiting) more \(waiting == 1 ? "response" : "responses") before the request is decided.", subject: summary.subject)
            )
        }
        var outputs = response.json
        if case .object(var members) = outputs {
            members["Responses"] = .array(all.map(\.json))
            outputs = .object(members)
        }
        return answer(
            decision: "resume", outputs: outputs, state: state,
            reply: pageReply(200, "Your response was recorded", "You chose \(response.option). Thank you.", subject: summary.subject)
        )
    }

    // MARK: Pages

    private func confirmation(recipient: String, option: String, summary: ApprovalSummary) -> JSONValue {
        var model: [String: Any] = [
            "title": "Confirm your response", "subject": summary.subject, "recipient": recipient, "option": option,
            "query": request["query"]?.string ?? "", "maximumComment": Self.maximumCommentLength,
        ]
        if let header = summary.headerText { model["headerText"] = header }
        if let selection = summary.selectionText { model["selectionText"] = selection }
        if wantsJSON {
            return answer(decision: "ignore", reply: json(200, ["status": "waiting", "option": .string(option), "recipient": .string(recipient)]))
        }
        return answer(decision: "ignore", reply: html(200, templates.render(model, withTemplate: "confirm") ?? ""))
    }

    private func decided(outputs: JSONValue?, recipient: String, option: String, responses: [ApprovalResponse], method: String, summary: ApprovalSummary) -> JSONValue {
        let decision = ApprovalResponse(outputs ?? .null)
        // The person whose choice this was, submitting it again (a double click): told it counted.
        let mine = responses.first { $0.email.lowercased() == recipient.lowercased() }
            ?? decision.flatMap { $0.email.lowercased() == recipient.lowercased() ? $0 : nil }
        if let mine, mine.option == option {
            return page(200, "Your response was already recorded", "You chose \(mine.option).", subject: summary.subject, decision: decision.map { ($0.option, $0.email, $0.respondedAt) })
        }
        return page(
            method == "POST" ? 409 : 200, "This request was already decided", "Your response was not recorded.", subject: summary.subject,
            decision: decision.map { ($0.option, $0.email, $0.respondedAt) }
        )
    }

    private func alreadyResponded(_ earlier: ApprovalResponse, option: String, method: String, summary: ApprovalSummary) -> JSONValue {
        if earlier.option == option {
            return page(200, "Your response was already recorded", "You chose \(earlier.option). The request waits for the other recipients.", subject: summary.subject)
        }
        return page(method == "POST" ? 409 : 200, "You already responded", "You chose \(earlier.option); a response cannot be changed.", subject: summary.subject)
    }

    private func gone(_ status: String, subject: String) -> JSONValue {
        switch status {
        case "TimedOut": page(410, "This request has expired", "It was not answered in time; nothing was recorded.", subject: subject)
        case "Cancelled": page(410, "This request was cancelled", "Nothing was recorded.", subject: subject)
        default: page(410, "This request is no longer waiting", "Nothing was recorded.", subject: subject)
        }
    }

    /// An answer that decides nothing and shows a page.
    private func page(
        _ status: Int, _ title: String, _ text: String, subject: String, decision: (option: String, by: String?, at: String?)? = nil,
        headers: [String: String] = [:]
    ) -> JSONValue {
        answer(decision: "ignore", reply: pageReply(status, title, text, subject: subject, decision: decision, headers: headers))
    }

    /// A page as a reply: HTML, or JSON for a client that asked for it.
    private func pageReply(
        _ status: Int, _ title: String, _ text: String, subject: String, decision: (option: String, by: String?, at: String?)? = nil,
        headers: [String: String] = [:]
    ) -> JSONValue {
        if wantsJSON {
            var fields: [String: JSONValue] = ["status": .string(title), "message": .string(text)]
            if let decision { fields["decision"] = .string(decision.option) }
            return json(status, fields, headers: headers)
        }
        var model: [String: Any] = ["title": title, "text": text, "subject": subject]
        if let decision {
            var values: [String: Any] = ["option": decision.option]
            if let by = decision.by { values["by"] = by }
            if let at = decision.at { values["at"] = at }
            model["decision"] = values
        }
        return html(status, templates.render(model, withTemplate: "message") ?? "", headers: headers)
    }

    // MARK: Plumbing

    /// A client that asks for JSON and not HTML (scripts, tests) gets JSON answers.
    private var wantsJSON: Bool {
        let accept = header("Accept")?.lowercased() ?? ""
        return accept.contains("application/json") && !accept.contains("text/html")
    }

    private func header(_ name: String) -> String? {
        guard case .object(let headers)? = request["headers"] else { return nil }
        return headers.first { $0.key.lowercased() == name.lowercased() }?.value.string
    }

    /// The comment from the form (`comments=`, URL-encoded) or a JSON body (`{"comments": …}`).
    private func comments() -> String {
        var text = ""
        if let object = JSONValue(parsing: body), let value = object["comments"]?.string {
            text = value
        } else {
            let form = String(decoding: body, as: UTF8.self)
            for pair in form.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.first == "comments", parts.count == 2 else { continue }
                text = String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
        }
        return String(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(Self.maximumCommentLength))
    }

    private func answer(decision: String, outputs: JSONValue? = nil, state: JSONValue? = nil, reply: JSONValue) -> JSONValue {
        var fields: [String: JSONValue] = ["decision": .string(decision), "reply": reply]
        if let outputs { fields["outputs"] = outputs }
        if let state { fields["state"] = state }
        return .object(fields)
    }

    private func html(_ status: Int, _ body: String, headers: [String: String] = [:]) -> JSONValue {
        var fields: [String: JSONValue] = [
            "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
            // The pages need no script and no outside resource; say so to the browser.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
        ]
        for (name, value) in headers { fields[name] = .string(value) }
        return ["status": .number(Double(status)), "headers": .object(fields), "body": .string(body)]
    }

    private func json(_ status: Int, _ fields: [String: JSONValue], headers: [String: String] = [:]) -> JSONValue {
        var headerFields: [String: JSONValue] = ["Content-Type": "application/json", "Cache-Control": "no-store"]
        for (name, value) in headers { headerFields[name] = .string(value) }
        return ["status": .number(Double(status)), "headers": .object(headerFields), "body": .string(String(decoding: JSONValue.object(fields).bytes, as: UTF8.self))]
    }

    static func responses(in state: JSONValue?) -> [ApprovalResponse] {
        guard case .array(let entries)? = state?["responses"] else { return [] }
        return entries.compactMap(ApprovalResponse.init)
    }

    /// ISO 8601 UTC with milliseconds, as run history writes times.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
