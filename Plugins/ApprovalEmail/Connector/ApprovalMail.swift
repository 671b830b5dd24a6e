import CallgateMail
import Foundation
import Mustache

/// The approval mail to one recipient: text and HTML alternatives, one link per option.
struct ApprovalMail {
    /// One option's signed link.
    struct Link: Sendable {
        var option: String
        var url: String
    }

    let request: ApprovalRequest
    let recipient: MailAddress
    let links: [Link]

    /// Whether the body is HTML: it contains a tag. Anything else is shown as plain text (escaped,
    /// line breaks kept), so a body such as "a < b" is never taken for markup.
    var bodyIsHTML: Bool {
        request.body.range(of: #"<(/?[a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*)?/?>"#, options: .regularExpression) != nil
    }

    func message(from sender: MailAddress, templates: MustacheLibrary) -> MailMessage {
        let selection = request.selectionText ?? "Please choose one of the options below."
        var model: [String: Any] = [
            "subject": request.subject, "selectionText": selection,
            "links": links.map { ["option": $0.option, "url": $0.url] },
            "all": request.requiredApprovals == .all,
        ]
        if let header = request.headerText { model["headerText"] = header }
        let plainBody = bodyIsHTML ? Self.text(ofHTML: request.body) : request.body
        var htmlModel = model
        if bodyIsHTML { htmlModel["bodyHTML"] = request.body } else if !request.body.isEmpty { htmlModel["bodyText"] = request.body }
        model["bodyText"] = plainBody
        var headers: [(name: String, value: String)] = [("Auto-Submitted", "auto-generated")]
        switch request.importance {
        case .high: headers += [("Importance", "high"), ("X-Priority", "1 (Highest)")]
        case .low: headers += [("Importance", "low"), ("X-Priority", "5 (Lowest)")]
        case .normal: break
        }
        return MailMessage(
            from: sender, to: [recipient], subject: request.subject,
            text: templates.render(model, withTemplate: "mail-text") ?? plainBody,
            html: templates.render(htmlModel, withTemplate: "mail-html"),
            headers: headers
        )
    }

    /// A readable text rendering of an HTML body for the text alternative: block ends become
    /// line breaks, tags go, the common entities are decoded.
    static func text(ofHTML html: String) -> String {
        var text = html.replacingOccurrences(of: #"(?i)<(br|/p|/div|/li|/h[1-6]|/tr)\s*/?>"#, with: "\n", options: .regularExpression)
        text = text.replacingOccurrences(of: #"<[^>]*>"#, with: "", options: .regularExpression)
        for (entity, character) in [("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
            text = text.replacingOccurrences(of: entity, with: character)
        }
        return text.replacingOccurrences(of: #"\n{3,}"#, with: "\n\n", options: .regularExpression).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
