import ArgumentParser
import CallgateEngine
import CallgateExpressions
import Foundation

/// `callgate run list [--workflow NAME] [--status S] | show RUN_ID | cancel RUN_ID`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "List, inspect and cancel workflow runs.",
        subcommands: [List.self, Show.self, Cancel.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
        @OptionGroup var client: AdminClientOptions
        @Option(help: "Only runs of this workflow.") var workflow: String?
        @Option(help: "Only runs with this status: \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")).") var status: String?
        @Option(help: "Most runs to show (1 to 1000).") var limit: Int = 50
        @Option(help: "Show the page after this run id (the previous page's last).") var after: String?

        func run() async throws {
            var query = ["limit=\(limit)"]
            if let workflow { query.append("workflow=" + percentEncoded(workflow)) }
            if let status { query.append("status=" + percentEncoded(status)) }
            if let after { query.append("after=" + percentEncoded(after)) }
            let data = try await client.makeClient().send(.GET, "/api/v1/runs?" + query.joined(separator: "&"))
            if client.json { return printJSON(data) }
            let page = try decodeAPI(RunPage.self, from: data)
            printTable(
                ["RUN", "WORKFLOW", "STATUS", "STARTED", "ENDED"],
                page.runs.map { [$0.id, "\($0.workflow) v\($0.version)", $0.status, isoString($0.startTime), $0.endTime.map(isoString) ?? "-"] }
            )
            if let next = page.next { print("more: --after \(next)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a run: every step with status, start/end, inputs/outputs (secure data redacted), and what a waiting step waits for."
        )
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The run id.") var runID: String

        func run() async throws {
            let data = try await client.makeClient().send(.GET, "/api/v1/runs/\(percentEncoded(runID))")
            if client.json { return printJSON(data) }
            let detail = try decodeAPI(RunDetail.self, from: data)
            let run = detail.run
            print("run \(run.id)  \(run.workflow) v\(run.version)  \(run.status)")
            print("started \(isoString(run.startTime))" + (run.endTime.map { "  ended \(isoString($0))" } ?? ""))
            if let error = run.error { print("error: \(error.jsonText)") }
            print("trigger \(run.trigger): \(detail.triggerOutputs.jsonText)")
            for action in detail.actions {
                var line = "- \(action.key) (\(action.type)): \(action.status)"
                if let start = action.startTime { line += "  \(isoString(start))" }
                if let end = action.endTime { line += " → \(isoString(end))" }
                if let attempts = action.attempts { line += "  attempts \(attempts)" }
                print(line)
                if let waiting = action.waiting {
                    var text = "    waiting for \(waiting.waitingFor)"
                    if let since = waiting.since { text += " since \(isoString(since))" }
                    text += waiting.deadline.map { ", deadline \(isoString($0))" } ?? ", no deadline"
                    if let id = waiting.callbackId { text += ", callback id \(id)" }
                    print(text)
                }
                if let inputs = action.inputs { print("    inputs: \(inputs.jsonText)") }
                if let outputs = action.outputs { print("    outputs: \(outputs.jsonText)") }
                if let error = action.error { print("    error: \(error.jsonText)") }
            }
            for call in detail.outbox {
                print("outbox: \(call.operation) of \(call.action ?? "-"): \(call.status) after \(call.attempts) attempt(s)" + (call.lastError.map { " — \($0)" } ?? ""))
            }
            if let outputs = detail.outputs { print("outputs: \(outputs.jsonText)") }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a run; its waiting steps are unsubscribed.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The run id.") var runID: String

        func run() async throws {
            let data = try await client.makeClient().send(.POST, "/api/v1/runs/\(percentEncoded(runID)):cancel")
            if client.json { return printJSON(data) }
            print("cancelled \(runID)")
        }
    }
}

func percentEncoded(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?/#"))) ?? text
}
