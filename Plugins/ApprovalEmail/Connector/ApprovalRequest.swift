import CallgateMail
import ConnectorKit

/// The evaluated inputs of one `SendApprovalEmail` step, checked: every problem names its input.
struct ApprovalRequest: Sendable, Equatable {
    /// Who decides, and how.
    enum RequiredApprovals: String, Sendable {
        /// The first response decides.
        case first
        /// Every recipient must choose the first option; any other option decides at once.
        case all
    }

    enum Importance: String, Sendable {
        case low = "Low", normal = "Normal", high = "High"
    }

    static let defaultOptions = "Approve, Reject"
    static let maximumOptions = 100
    static let maximumRecipients = 100

    var recipients: [MailAddress]
    var subject: String
    var body: String
    var options: [String]
    var importance: Importance
    var headerText: String?
    var selectionText: String?
    var requiredApprovals: RequiredApprovals

    init(inputs: JSONValue) throws(ConnectorError) {
        func text(_ name: String) throws(ConnectorError) -> String? {
            switch inputs[name] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            case .number(let value)?: return value == value.rounded() ? String(Int(value)) : String(value)
            case _?: throw .invalid("inputs.\(name) must be a string")
            }
        }
        guard let to = try text("To"), !to.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalid("inputs.To must name at least one e-mail address")
        }
        var recipients: [MailAddress] = []
        do {
            for address in try MailAddress.list(to) where !recipients.contains(where: { $0.address.lowercased() == address.address.lowercased() }) {
                recipients.append(address)
            }
        } catch {
            throw .invalid("inputs.To: \(error)")
        }
        guard !recipients.isEmpty else { throw .invalid("inputs.To must name at least one e-mail address") }
        guard recipients.count <= Self.maximumRecipients else { throw .invalid("inputs.To names \(recipients.count) addresses; at most \(Self.maximumRecipients)") }
        guard let subject = try text("Subject"), !subject.isEmpty else { throw .invalid("inputs.Subject must not be empty") }

        var options: [String] = []
        for option in (try text("Options") ?? Self.defaultOptions).split(separator: ",") {
            let trimmed = option.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            guard !options.contains(where: { $0.lowercased() == trimmed.lowercased() }) else { throw .invalid("inputs.Options names '\(trimmed)' twice") }
            options.append(trimmed)
        }
        guard !options.isEmpty else { throw .invalid("inputs.Options must name at least one option (comma-separated)") }
        guard options.count <= Self.maximumOptions else { throw .invalid("inputs.Options names \(options.count) options; at most \(Self.maximumOptions)") }

        let importanceText = try text("Importance") ?? "Normal"
        guard let importance = Importance.allCases.first(where: { $0.rawValue.lowercased() == importanceText.lowercased() }) else {
            throw .invalid("inputs.Importance is '\(importanceText)'; use Low, Normal or High")
        }
        let modeText = try text("RequiredApprovals") ?? "first"
        guard let mode = RequiredApprovals(rawValue: modeText.lowercased()) else {
            throw .invalid("inputs.RequiredApprovals is '\(modeText)'; use first or all")
        }
        self.recipients = recipients
        self.subject = subject
        self.body = try text("Body") ?? ""
        self.options = options
        self.importance = importance
        self.headerText = try text("HeaderText").flatMap { $0.isEmpty ? nil : $0 }
        self.selectionText = try text("SelectionText").flatMap { $0.isEmpty ? nil : $0 }
        self.requiredApprovals = mode
    }

    /// What link calls need, kept with the step (the body is not: it may be large and the
    /// pages do not show it).
    var summary: JSONValue {
        var members: [String: JSONValue] = [
            "to": .array(recipients.map { .string($0.address) }), "subject": .string(subject),
            "options": .array(options.map { .string($0) }), "requiredApprovals": .string(requiredApprovals.rawValue),
            "importance": .string(importance.rawValue),
        ]
        if let headerText { members["headerText"] = .string(headerText) }
        if let selectionText { members["selectionText"] = .string(selectionText) }
        return .object(members)
    }
}

extension ApprovalRequest.Importance: CaseIterable {}

/// An approval as link calls see it: the summary a subscribe recorded.
struct ApprovalSummary: Sendable, Equatable {
    var recipients: [String]
    var subject: String
    var options: [String]
    var requiredApprovals: ApprovalRequest.RequiredApprovals
    var headerText: String?
    var selectionText: String?

    init?(_ value: JSONValue?) {
        guard let value, case .array(let to)? = value["to"], case .array(let options)? = value["options"],
              let subject = value["subject"]?.string,
              let mode = value["requiredApprovals"]?.string.flatMap(ApprovalRequest.RequiredApprovals.init(rawValue:))
        else { return nil }
        self.recipients = to.compactMap(\.string)
        self.subject = subject
        self.options = options.compactMap(\.string)
        self.requiredApprovals = mode
        self.headerText = value["headerText"]?.string
        self.selectionText = value["selectionText"]?.string
    }
}
