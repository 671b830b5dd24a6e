import ArgumentParser
import CallgateServer

/// `callgate version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the gateway's version.")

    func run() {
        print("callgate \(CallgateVersion.current)")
    }
}
