import CallgateCLI
import CallgateTestSteps
import Foundation

// `callgate serve` plus the plugin-free `TestWebhook` waiting step, for tests that need a gateway
// process of their own (the crash test kills it with SIGKILL). Takes the same flags as `serve`.
do {
    let command = try ServeCommand.parse(Array(CommandLine.arguments.dropFirst()))
    try await command.run(callbackSteps: [TestWebhookStep.type: TestWebhookStep()])
} catch {
    ServeCommand.exit(withError: error)
}
