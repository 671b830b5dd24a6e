import CallgateStore
import Crypto
import Dispatch
import Foundation
import GRDB
import Synchronization

/// Installs, loads, lists and removes plugins; the one owner of every ``LoadedPlugin``.
///
/// Installing verifies the package (manifest, ABI major, hash, signature) **before** anything is
/// loaded, copies it into the private plugin directory (0700), verifies the copy again, and only
/// then opens the library. At start-up each installed plugin is verified again from its private
/// copy, and one that crashed the gateway inside a hook too often is quarantined, not loaded.
public final class PluginManager: Sendable {
    /// What is known of an installed plugin.
    public struct Record: Sendable, Codable, Equatable {
        public var id: String
        public var version: String
        public var abi: String
        public var sha256: String
        public var signed: Bool
        /// Linked into the gateway (started at every start-up; cannot be removed).
        public var bundled: Bool
        public var installedAt: Date
        public var crashes: Int
        public var quarantined: Bool
        /// `loaded`, `quarantined`, or `failed: <reason>`.
        public var state: String
        /// The plugin's build information, once loaded.
        public var buildInfo: String?
        /// The trigger and action types it declares (from `describe`), once loaded.
        public var description: String?
    }

    /// Crashes inside hooks after which a plugin is quarantined.
    public static let crashQuarantineThreshold = 3

    private let directory: String
    private let environment: PluginHostEnvironment
    private let trustedPublisherKeys: [Curve25519.Signing.PublicKey]
    private let loaded = Mutex<[String: LoadedPlugin]>([:])
    private let failures = Mutex<[String: String]>([:])
    private let descriptions = Mutex<[String: String]>([:])
    private let loaderQueue = DispatchQueue(label: "callgate.plugin.loader")

    /// - Parameters:
    ///   - directory: The private plugin directory (created 0700).
    ///   - environment: What host services act on.
    ///   - trustedPublisherKeys: When not empty, every plugin must carry a signature by one of them.
    public init(directory: String, environment: PluginHostEnvironment, trustedPublisherKeys: [Curve25519.Signing.PublicKey] = []) throws {
        self.directory = directory
        self.environment = environment
        self.trustedPublisherKeys = trustedPublisherKeys
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Checks a package without loading it (`callgate plugin verify`).
    public static func verify(packageDirectory: String, trustedPublisherKeys: [Curve25519.Signing.PublicKey] = []) throws -> PluginPackage.Verified {
        try PluginPackage(directory: packageDirectory).verify(trustedPublisherKeys: trustedPublisherKeys, supportedMajors: PluginABI.supportedMajors)
    }

    /// The loaded plugin with this id.
    public func plugin(id: String) -> LoadedPlugin? {
        loaded.withLock { $0[id] }
    }

    /// Installs (or replaces) the plugin in `packageDirectory` and loads it.
    @discardableResult
    public func install(packageDirectory: String) async throws -> Record {
        let verified = try Self.verify(packageDirectory: packageDirectory, trustedPublisherKeys: trustedPublisherKeys)
        let id = verified.manifest.id
        if try await isBundled(id: id) {
            throw PluginError.negotiation(plugin: id, "is bundled with the gateway; a package cannot replace it")
        }
        if loaded.withLock({ $0[id] }) != nil {
            // The old library cannot be unloaded; replacing it needs a restart.
            throw PluginError.negotiation(plugin: id, "is loaded; remove it and restart the gateway before installing another build")
        }
        let target = directory + "/" + id
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for file in ["manifest.json", "manifest.sig", verified.manifest.library] {
            let source = packageDirectory + "/" + file
            guard FileManager.default.fileExists(atPath: source) else { continue }
            try FileManager.default.copyItem(atPath: source, toPath: target + "/" + file)
        }
        // Verify the private copy: what is loaded is what was checked.
        let copy = try PluginPackage(directory: target).verify(trustedPublisherKeys: trustedPublisherKeys, supportedMajors: PluginABI.supportedMajors)
        let manifestText = String(decoding: try Data(contentsOf: URL(fileURLWithPath: target + "/manifest.json")), as: UTF8.self)
        try await environment.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO plugin (id, version, abi_major, abi_minor, library_sha256, manifest, signed, installed_at, crashes, quarantined)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)
                    ON CONFLICT(id) DO UPDATE SET version = excluded.version, abi_major = excluded.abi_major,
                        abi_minor = excluded.abi_minor, library_sha256 = excluded.library_sha256, manifest = excluded.manifest,
                        signed = excluded.signed, installed_at = excluded.installed_at, crashes = 0, quarantined = 0
                    """,
                arguments: [
                    id, copy.manifest.version, copy.manifest.abi.major, copy.manifest.abi.minor, copy.manifest.sha256,
                    manifestText, copy.isSigned, Date().timeIntervalSince1970,
                ]
            )
        }
        try await load(copy, marker: try InFlightMarker(path: target + "/inflight"))
        return try await record(id: id)
    }

    /// Loads every installed plugin (at start-up). Failures are recorded, not thrown: one bad
    /// plugin does not keep the gateway down.
    public func loadInstalled() async throws {
        let ids = try await environment.database.read { db in try String.fetchAll(db, sql: "SELECT id FROM plugin WHERE bundled = 0 ORDER BY id") }
        for id in ids {
            await startRecordingFailure(id: id) { marker in
                let verified = try PluginPackage(directory: self.directory + "/" + id).verify(
                    trustedPublisherKeys: self.trustedPublisherKeys, supportedMajors: PluginABI.supportedMajors
                )
                try await self.load(verified, marker: marker)
            }
        }
    }

    /// Starts the plugins linked into the gateway (at start-up), recording them so that they are
    /// listed like installed ones. A bundled plugin that crashed the gateway is quarantined too.
    public func startBundled(_ bundled: [BundledPlugin]) async {
        for plugin in bundled {
            let manifest = plugin.manifest
            do {
                let manifestText = String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self)
                try await environment.database.write { db in
                    try db.execute(
                        sql: """
                            INSERT INTO plugin (id, version, abi_major, abi_minor, library_sha256, manifest, signed, bundled, installed_at)
                            VALUES (?, ?, ?, ?, 'bundled', ?, 0, 1, ?)
                            ON CONFLICT(id) DO UPDATE SET version = excluded.version, abi_major = excluded.abi_major,
                                abi_minor = excluded.abi_minor, manifest = excluded.manifest, bundled = 1
                            """,
                        arguments: [manifest.id, manifest.version, manifest.abi.major, manifest.abi.minor, manifestText, Date().timeIntervalSince1970]
                    )
                }
            } catch {
                failures.withLock { $0[manifest.id] = "\(error)" }
                continue
            }
            await startRecordingFailure(id: manifest.id) { marker in
                try await self.start(manifest: manifest, marker: marker) { environment, marker in
                    try PluginLoader.start(manifest: manifest, negotiate: plugin.negotiate, environment: environment, marker: marker)
                }
            }
        }
    }

    /// Opens the plugin's crash marker, counts a crash it reveals, refuses a quarantined plugin,
    /// then runs `start`; a failure is recorded and logged, never thrown.
    private func startRecordingFailure(id: String, _ start: (InFlightMarker) async throws -> Void) async {
        do {
            try FileManager.default.createDirectory(atPath: directory + "/" + id, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let marker = try InFlightMarker(path: directory + "/" + id + "/inflight")
            if marker.countAtOpen > 0 {
                try await recordCrash(id: id)
            }
            if let crashes = try await quarantinedCrashes(id: id) {
                throw PluginError.quarantined(plugin: id, crashes: crashes)
            }
            try await start(marker)
        } catch {
            failures.withLock { $0[id] = "\(error)" }
            environment.logger.error("plugin not loaded", metadata: ["plugin": "\(id)", "error": "\(error)"])
        }
    }

    /// Every installed plugin, read in one query (readiness probes call this).
    public func list() async throws -> [Record] {
        try await records(id: nil)
    }

    /// One installed plugin.
    public func record(id: String) async throws -> Record {
        guard let record = try await records(id: id).first else { throw PluginError.notInstalled(id) }
        return record
    }

    /// The stored rows (all, or the one with `id`) joined with what is known in memory.
    private func records(id: String?) async throws -> [Record] {
        struct Row: Sendable {
            let id: String, version: String, abiMajor: Int, abiMinor: Int, sha256: String, signed: Bool, bundled: Bool
            let installedAt: Double, crashes: Int, quarantined: Bool
        }
        let rows = try await environment.database.read { db -> [Row] in
            let sql = "SELECT * FROM plugin" + (id == nil ? "" : " WHERE id = ?") + " ORDER BY id"
            return try GRDB.Row.fetchAll(db, sql: sql, arguments: StatementArguments(id.map { [$0] } ?? [])).map { row in
                Row(
                    id: row["id"], version: row["version"], abiMajor: row["abi_major"], abiMinor: row["abi_minor"], sha256: row["library_sha256"],
                    signed: row["signed"], bundled: row["bundled"], installedAt: row["installed_at"], crashes: row["crashes"],
                    quarantined: row["quarantined"]
                )
            }
        }
        return rows.map { row in
            let plugin = self.plugin(id: row.id)
            let state: String
            if plugin != nil {
                state = "loaded"
            } else if row.quarantined {
                state = "quarantined"
            } else {
                state = failures.withLock { $0[row.id] }.map { "failed: \($0)" } ?? "not loaded"
            }
            return Record(
                id: row.id, version: row.version, abi: "\(plugin?.abiMajor ?? row.abiMajor).\(plugin?.abiMinor ?? row.abiMinor)",
                sha256: row.sha256, signed: row.signed, bundled: row.bundled, installedAt: Date(timeIntervalSince1970: row.installedAt),
                crashes: row.crashes, quarantined: row.quarantined, state: state, buildInfo: plugin?.buildInfo,
                description: descriptions.withLock { $0[row.id] }
            )
        }
    }

    /// Uninstalls a plugin: its shutdown hook runs, its files and state are deleted. The library
    /// stays mapped until the process ends (plugins are never unloaded).
    public func remove(id: String) async throws {
        if try await record(id: id).bundled {
            throw PluginError.negotiation(plugin: id, "is bundled with the gateway and cannot be removed")
        }
        if let plugin = loaded.withLock({ $0.removeValue(forKey: id) }) {
            await plugin.shutdown()
        }
        try await environment.database.write { db in
            try db.execute(sql: "DELETE FROM plugin WHERE id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM plugin_state WHERE plugin_id = ?", arguments: [id])
        }
        try? FileManager.default.removeItem(atPath: directory + "/" + id)
        failures.withLock { $0[id] = nil }
        descriptions.withLock { $0[id] = nil }
    }

    /// Calls every plugin's shutdown hook (at gateway shutdown).
    public func shutdownAll() async {
        for plugin in loaded.withLock({ Array($0.values) }) { await plugin.shutdown() }
    }

    // MARK: private

    private func load(_ verified: PluginPackage.Verified, marker: InFlightMarker) async throws {
        try await start(manifest: verified.manifest, marker: marker) { environment, marker in
            try PluginLoader.load(manifest: verified.manifest, libraryPath: verified.libraryPath, environment: environment, marker: marker)
        }
    }

    private func isBundled(id: String) async throws -> Bool {
        try await environment.database.read { db in
            try Bool.fetchOne(db, sql: "SELECT bundled FROM plugin WHERE id = ?", arguments: [id]) ?? false
        }
    }

    /// Runs `open` (dlopen or a bundled entry point, then negotiation and init) on the loader's
    /// thread, never the cooperative pool, since it runs plugin code; then describes the plugin.
    private func start(
        manifest: PluginManifest,
        marker: InFlightMarker,
        _ open: @escaping @Sendable (PluginHostEnvironment, InFlightMarker) throws -> LoadedPlugin
    ) async throws {
        let environment = self.environment
        let plugin: LoadedPlugin = try await withCheckedThrowingContinuation { continuation in
            loaderQueue.async {
                continuation.resume(with: Result { try open(environment, marker) })
            }
        }
        let description = try? await plugin.describe()
        loaded.withLock { $0[plugin.id] = plugin }
        failures.withLock { $0[plugin.id] = nil }
        descriptions.withLock { $0[plugin.id] = description.map { String(decoding: $0, as: UTF8.self) } }
    }

    private func recordCrash(id: String) async throws {
        let threshold = Self.crashQuarantineThreshold
        try await environment.database.write { db in
            try db.execute(
                sql: "UPDATE plugin SET crashes = crashes + 1, quarantined = (crashes + 1 >= ?) WHERE id = ?",
                arguments: [threshold, id]
            )
        }
    }

    private func quarantinedCrashes(id: String) async throws -> Int? {
        try await environment.database.read { db in
            try Int.fetchOne(db, sql: "SELECT crashes FROM plugin WHERE id = ? AND quarantined = 1", arguments: [id])
        }
    }
}
