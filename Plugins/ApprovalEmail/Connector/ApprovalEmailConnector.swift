import CallgateMail
import ConnectorKit
import Foundation
import Mustache

/// approval-email: the `SendApprovalEmail` action (Office 365's "Send approval email"). A step
/// sends one mail per recipient, each with one signed link per option, then waits; a link opens a
/// confirmation page (GET decides nothing), whose POST records the choice. With
/// `RequiredApprovals: first` the first response decides; with `all` every recipient must choose
/// the first option, and any other option decides at once.
final class ApprovalEmailConnector: Connector {
    let host: ConnectorHost
    let templates: MustacheLibrary

    init(host: ConnectorHost) throws(ConnectorError) {
        self.host = host
        do {
            templates = try ApprovalTemplates.library()
        } catch {
            throw .internalError("the approval templates do not parse: \(error)")
        }
    }

    func describe() -> JSONValue {
        let text: JSONValue = ["type": "string"]
        return [
            "id": "approval-email", "version": "1.0.0",
            "actions": [[
                "type": "SendApprovalEmail",
                "inputs": [
                    "type": "object", "required": ["To", "Subject"],
                    "properties": [
                        "To": text, "Subject": text, "Body": text, "Options": text, "Importance": text, "HeaderText": text,
                        "SelectionText": text, "RequiredApprovals": text,
                    ],
                ],
            ]],
        ]
    }

    func makeInstance(configuration: JSONValue) throws(ConnectorError) -> any ConnectorInstance {
        ApprovalEmailInstance(connector: self, delivery: try MailDelivery(configuration: configuration))
    }
}

final class ApprovalEmailInstance: ConnectorInstance {
    let connector: ApprovalEmailConnector
    let delivery: MailDelivery

    init(connector: ApprovalEmailConnector, delivery: MailDelivery) {
        self.connector = connector
        self.delivery = delivery
    }

    /// Checks the inputs now (a bad address fails the step at once, naming the input), then
    /// sends on a thread of its own and completes the operation when every mail is out.
    func subscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        guard let operation = request["operation"]?.string, let subscription = request["subscription"]?.string else {
            throw .invalid("request lacks \"operation\" or \"subscription\"")
        }
        guard request["kind"]?.string != "trigger" else { throw .unsupported("SendApprovalEmail is an action, not a trigger") }
        let approval = try ApprovalRequest(inputs: request["inputs"] ?? .null)
        let job = ApprovalDelivery(
            host: connector.host, templates: connector.templates, delivery: delivery, approval: approval,
            subscription: subscription, operation: operation
        )
        let thread = Thread { job.run() }
        thread.name = "callgate.approval-email.delivery"
        thread.start()
        return .pending(["recipients": .number(Double(approval.recipients.count))])
    }

    /// Mails cannot be called back; what goes is the record of which were sent.
    func unsubscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        if let subscription = request["subscription"]?.string { try connector.host.deleteState(ApprovalDelivery.progressKey(subscription)) }
        return .done(["sent": false])
    }

    func handleCallback(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> HookOutcome {
        guard request["kind"]?.string == "link" else {
            return .done(["decision": "ignore", "reply": ["status": 404]])
        }
        let call = ApprovalLinkCall(
            request: request, body: body, templates: connector.templates,
            now: connector.host.now
        )
        return .done(call.answer())
    }
}

/// Sends the mails of one step: per recipient, mint one link per option, compose, deliver, and
/// note it in the plugin's state, so an attempt retried after a 4xx (or a restart) sends only to
/// those not yet reached and reuses the links already mailed.
struct ApprovalDelivery: Sendable {
    let host: ConnectorHost
    let templates: MustacheLibrary
    let delivery: MailDelivery
    let approval: ApprovalRequest
    let subscription: String
    let operation: String

    static func progressKey(_ subscription: String) -> String { "sent/" + subscription }

    func run() {
        do {
            try host.completeOperation(id: operation, outputs: try deliverAll())
        } catch let failure as MailDelivery.Failure {
            var outputs: [String: JSONValue] = ["message": .string(failure.message)]
            if let reply = failure.reply { outputs["reply"] = .string(reply) }
            let status: ConnectorError = failure.isTransient ? .retryable("") : .invalid("")
            try? host.completeOperation(id: operation, status: status.status, outputs: .object(outputs))
        } catch {
            let status = (error as? ConnectorError)?.status ?? ConnectorError.internalError("").status
            try? host.completeOperation(id: operation, status: status, outputs: ["message": .string("\(error)")])
        }
    }

    /// `{"request": summary, "links": {id: {"to", "option"}}, "deliveries": [...]}`, recorded on the step.
    private func deliverAll() throws -> JSONValue {
        let key = Self.progressKey(subscription)
        var progress: [String: JSONValue] = [:]
        if let stored = try host.state(key), case .object(let object)? = JSONValue(parsing: stored) { progress = object }
        for (index, recipient) in approval.recipients.enumerated() {
            let address = recipient.address.lowercased()
            if progress[address] != nil { continue }
            var links: [ApprovalMail.Link] = []
            var linkRecords: [String: JSONValue] = [:]
            for option in approval.options {
                let minted = try host.mintCallbackURL(subscription: subscription, scope: "approval")
                links.append(ApprovalMail.Link(option: option, url: minted.url))
                linkRecords[minted.id] = ["to": .string(recipient.address), "option": .string(option)]
            }
            let mail = ApprovalMail(request: approval, recipient: recipient, links: links)
            let now = host.now
            let receipt = try delivery.deliver(mail.message(from: delivery.sender, templates: templates), name: "approval-\(subscription)-\(index + 1)", now: now)
            if case .outbox = delivery {
                let list = links.map { "\($0.option): \($0.url)" }.joined(separator: "  ")
                host.log(.info, "approval mail to \(recipient.address) written to \(receipt.fields["file"]?.string ?? "the outbox"); links: \(list)")
            }
            var record = receipt.fields
            record["to"] = .string(recipient.address)
            progress[address] = ["links": .object(linkRecords), "delivery": .object(record)]
            try host.setState(key, JSONValue.object(progress).bytes)
        }
        var allLinks: [String: JSONValue] = [:]
        var deliveries: [JSONValue] = []
        for recipient in approval.recipients {
            guard let entry = progress[recipient.address.lowercased()] else { continue }
            if case .object(let links)? = entry["links"] { allLinks.merge(links) { first, _ in first } }
            if let delivered = entry["delivery"] { deliveries.append(delivered) }
        }
        return ["request": approval.summary, "links": .object(allLinks), "deliveries": .array(deliveries)]
    }
}

/// The plugin's entry point, exported as `callgate_plugin_negotiate` by the shared library and
/// called directly when the plugin is bundled into the gateway.
public func approvalEmailNegotiate(_ offer: OpaquePointer?, _ answer: OpaquePointer?) -> Int32 {
    negotiate(offer: offer, answer: answer) { startConnector(ApprovalEmailConnector.self, $0, $1, $2, $3) }
}
