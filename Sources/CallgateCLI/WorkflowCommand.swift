import ArgumentParser
import CallgateEngine
import CallgateExpressions
import Foundation

/// `callgate workflow deploy NAME FILE.json | list | show NAME | enable NAME | disable NAME | delete NAME
/// | callback-url NAME [--trigger T]`.
struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Deploy and manage workflows.",
        subcommands: [Deploy.self, List.self, Show.self, Enable.self, Disable.self, Delete.self, CallbackURL.self]
    )

    private struct Summary: Decodable {
        let name: String
        let enabled: Bool
        let version: Int
        let trigger: String
        let triggerType: String
        let actions: Int
    }

    private struct Result: Decodable { let workflow: Summary }

    /// `enable` and `disable` differ only in the operation they name.
    fileprivate static func setEnabled(_ enabled: Bool, name: String, client: AdminClientOptions) async throws {
        let operation = enabled ? "enable" : "disable"
        _ = try await client.makeClient().send(.POST, "/api/v1/workflows/\(name):\(operation)")
        print("\(operation)d \(name)")
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a workflow from a Logic Apps definition file; prints every validation error with its JSON path."
        )
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The workflow's name.") var name: String
        @Argument(help: "The definition (JSON).") var file: String

        func run() async throws {
            guard let body = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
            let data = try await client.makeClient().send(.PUT, "/api/v1/workflows/\(name)", body: body)
            if client.json { return printJSON(data) }
            let workflow = try decodeAPI(Result.self, from: data).workflow
            print("deployed \(workflow.name) version \(workflow.version) (\(workflow.triggerType) trigger '\(workflow.trigger)', \(workflow.actions) actions)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List workflows.")
        @OptionGroup var client: AdminClientOptions

        func run() async throws {
            let data = try await client.makeClient().send(.GET, "/api/v1/workflows")
            if client.json { return printJSON(data) }
            struct Workflows: Decodable { let workflows: [Summary] }
            let workflows = try decodeAPI(Workflows.self, from: data).workflows
            printTable(["NAME", "VERSION", "STATE", "TRIGGER", "ACTIONS"],
                       workflows.map { [$0.name, String($0.version), $0.enabled ? "enabled" : "disabled", "\($0.trigger) (\($0.triggerType))", String($0.actions)] })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a workflow: its live version, its trigger's subscription (state, last error, next attempt, unsubscribes) and its definition."
        )
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The workflow's name.") var name: String

        func run() async throws {
            let data = try await client.makeClient().send(.GET, "/api/v1/workflows/\(name)")
            if client.json { return printJSON(data) }
            struct Detail: Decodable {
                let workflow: Summary
                let subscription: TriggerSubscriptionStatus?
                let definition: ExpressionValue
            }
            let detail = try decodeAPI(Detail.self, from: data)
            let workflow = detail.workflow
            print("workflow \(workflow.name)  v\(workflow.version)  \(workflow.enabled ? "enabled" : "disabled")")
            print("trigger \(workflow.trigger) (\(workflow.triggerType)), \(workflow.actions) actions")
            if let subscription = detail.subscription { Self.describe(subscription) }
            print("definition:")
            printJSON(Data(detail.definition.jsonText.utf8))
        }

        private static func describe(_ subscription: TriggerSubscriptionStatus) {
            var line = "subscription: \(subscription.state)"
            if let since = subscription.subscribedAt, subscription.state == "subscribed" { line += " since \(isoString(since))" }
            if case .integer(let status)? = subscription.subscription?["statusCode"] { line += " (answered \(status))" }
            if subscription.attempts > 0 { line += ", \(subscription.attempts) failed attempt(s)" }
            if let error = subscription.lastError { line += ": \(error)" }
            if let next = subscription.nextAttemptAt {
                line += "; next attempt \(isoString(next))"
            } else if subscription.state == "failed" {
                line += "; retried on enable or redeploy"
            }
            print(line)
            for call in subscription.unsubscribes {
                print("unsubscribe queued \(isoString(call.queuedAt)): \(call.status) after \(call.attempts) attempt(s)" + (call.lastError.map { " — \($0)" } ?? ""))
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a workflow.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The workflow's name.") var name: String

        func run() async throws {
            try await WorkflowCommand.setEnabled(true, name: name, client: client)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a workflow.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The workflow's name.") var name: String

        func run() async throws {
            try await WorkflowCommand.setEnabled(false, name: name, client: client)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a workflow (its deployed versions are kept).")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The workflow's name.") var name: String

        func run() async throws {
            _ = try await client.makeClient().send(.DELETE, "/api/v1/workflows/\(name)")
            print("deleted \(name)")
        }
    }

    struct CallbackURL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "callback-url",
            abstract: "Print the signed URL of a workflow's Request trigger (like Logic Apps' listCallbackUrl)."
        )
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The workflow's name.") var name: String
        @Option(help: "The trigger's name (default: the workflow's only trigger).") var trigger: String?

        func run() async throws {
            let admin = try client.makeClient()
            var triggerName = trigger
            if triggerName == nil {
                struct Detail: Decodable { let workflow: Summary }
                triggerName = try decodeAPI(Detail.self, from: try await admin.send(.GET, "/api/v1/workflows/\(name)")).workflow.trigger
            }
            let data = try await admin.send(.POST, "/api/v1/workflows/\(name)/triggers/\(triggerName ?? "manual")/callback-url")
            if client.json { return printJSON(data) }
            struct Answer: Decodable { let value: String }
            print(try decodeAPI(Answer.self, from: data).value)
        }
    }
}
