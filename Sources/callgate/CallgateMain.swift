import CallgateCLI
import Logging

/// The executable's entry point.
@main
enum CallgateMain {
    static func main() async {
        // The only process-global setup: where log lines go. Levels are set per logger from settings.
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
        await CallgateCommand.main()
    }
}
