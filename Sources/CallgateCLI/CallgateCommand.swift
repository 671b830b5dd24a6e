import ArgumentParser

/// `callgate`: the gateway and the operator's client of its admin API.
public struct CallgateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "callgate",
        abstract: "A self-hosted connector gateway for webhook-driven workflows.",
        subcommands: [ServeCommand.self, CertsCommand.self, KeysCommand.self, PluginCommand.self, WorkflowCommand.self, RunCommand.self, HubCommand.self, VersionCommand.self]
    )

    public init() {}
}
