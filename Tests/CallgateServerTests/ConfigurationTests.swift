@testable import CallgateCLI
import CallgateServer
import Foundation
import Testing
import CallgateTesting

@Suite struct ConfigurationTests {
    @Test func defaultsMatchTheSpec() throws {
        let configuration = try SettingsLoader(environment: [:]).load()
        #expect(configuration.listen.description == "127.0.0.1:8443")
        #expect(configuration.effectivePublicURL == "https://127.0.0.1:8443")
        #expect(configuration.dataDirectory == "./data")
        #expect(configuration.effectivePluginDirectory == "./data/plugins")
        #expect(configuration.tlsMinimumVersion == .v1_2)
        #expect(configuration.limits.maxBodyBytes == 16 * 1024 * 1024)
        #expect(configuration.engine.runRetentionDays == 90)
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/callgate.yaml"
        try """
            listen: 0.0.0.0:9000
            public_url: https://file.example
            data_dir: /var/lib/callgate
            tls:
              minimum_version: "1.3"
            limits:
              max_body_bytes: 1000
              max_connections: 10
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let loaded = try SettingsLoader(
            flags: ["limits.max_body_bytes": "3000"],
            environment: ["CALLGATE_LIMITS_MAX_BODY_BYTES": "2000", "CALLGATE_PUBLIC_URL": "https://env.example", "UNRELATED": "x"],
            configFile: file
        ).load()
        #expect(loaded.listen.description == "0.0.0.0:9000")
        #expect(loaded.publicURL == "https://env.example")
        #expect(loaded.dataDirectory == "/var/lib/callgate")
        #expect(loaded.tlsMinimumVersion == .v1_3)
        #expect(loaded.limits.maxBodyBytes == 3000)
        #expect(loaded.limits.maxConnections == 10)
    }

    @Test(arguments: [
        ("listen: nowhere\n", "callgate.yaml: listen: 'nowhere' is not HOST:PORT"),
        ("tls:\n  minimum_version: \"1.1\"\n", "callgate.yaml: tls.minimum_version: '1.1' is not 1.2 or 1.3"),
        ("limits:\n  max_body_byte: 5\n", "callgate.yaml: limits.max_body_byte: unknown setting 'limits.max_body_byte'"),
        ("limits:\n  max_body_bytes: -5\n", "callgate.yaml: limits.max_body_bytes: '-5' is not a positive whole number"),
        ("admin:\n  client_ca: /ca.pem\n", "admin.client_ca requires admin.listen: mTLS applies to a separate admin listener"),
        ("tls:\n  key: /k.pem\n", "tls.certificate and tls.key must be set together"),
        ("- a\n- b\n", "callgate.yaml: document: expected a single value"),
        ("smtp:\n  host: mail.example.com\n", "smtp.from is required with smtp.host: the sender of approval mails"),
        ("smtp:\n  from: not an address\n", "callgate.yaml: smtp.from: 'not an address' is not an e-mail address"),
        ("smtp:\n  security: ssl\n", "callgate.yaml: smtp.security: 'ssl' is not starttls, tls or none"),
        ("smtp:\n  username: u\n", "smtp.username and smtp.password must be set together"),
        ("engine:\n  run_retention_days: 0\n", "callgate.yaml: engine.run_retention_days: '0' is not a positive whole number"),
    ])
    func badFilesAreRefusedNamingTheSettingAndSource(yaml: String, message: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/callgate.yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try SettingsLoader(environment: [:], configFile: file).load()
            Issue.record("loaded a bad file")
        } catch let error as SettingsLoader.LoadError {
            #expect(error.description == message.replacingOccurrences(of: "callgate.yaml", with: file))
        }
    }

    @Test func badEnvironmentValuesNameTheVariable() throws {
        #expect(throws: SettingsLoader.LoadError.self) {
            try SettingsLoader(environment: ["CALLGATE_LOG_LEVEL": "loud"]).load()
        }
        do {
            _ = try SettingsLoader(environment: ["CALLGATE_LISTEN": "x"]).load()
        } catch let error as SettingsLoader.LoadError {
            #expect(error.description == "CALLGATE_LISTEN: 'x' is not HOST:PORT")
        }
    }

    @Test func everySettingIsAServeFlagAndAnEnvironmentVariable() {
        let help = ServeCommand.helpMessage(columns: 1000)
        for setting in Setting.all {
            #expect(help.contains("--\(setting.flag) "), "serve lacks --\(setting.flag)")
            #expect(help.contains(setting.environmentVariable), "serve help lacks \(setting.environmentVariable)")
        }
        // And every flag maps back to its setting.
        let serve = try? ServeCommand.parse(Setting.all.flatMap { ["--\($0.flag)", "v-\($0.key)"] })
        let values = serve?.flagValues ?? [:]
        for setting in Setting.all {
            #expect(values[setting.key] == "v-\(setting.key)", "--\(setting.flag) does not set \(setting.key)")
        }
    }

    @Test func theREADMEConfigurationReferenceListsEverySetting() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        for setting in Setting.all {
            #expect(text.contains("| `\(setting.key)` | `\(setting.environmentVariable)` | `--\(setting.flag)` |"), "README lacks \(setting.key)")
        }
    }
}
