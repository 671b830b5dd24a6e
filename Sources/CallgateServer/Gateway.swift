import AsyncHTTPClient
import CallgateCallbacks
import CallgateExpressions
import CallgateEngine
import CallgateOutbound
import CallgatePluginHost
import CallgateStore
import CallgateWorkflow
import Foundation
import GRDB
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Prometheus
import ServiceLifecycle
import Synchronization

/// A running Callgate gateway: its store, keys, callback registry and HTTPS listeners.
///
/// ``open(configuration:presetAdminToken:callbackHandlers:logger:)`` prepares everything that
/// can fail (data directory, database, keys, certificates, token) before ``run(onListening:)``
/// binds a socket, so a misconfiguration never leaves a half-started server.
public final class Gateway: Sendable {
    /// The ports the listeners actually bound (useful with port 0).
    public struct BoundPorts: Sendable, Equatable {
        /// The main HTTPS listener.
        public var main: Int
        /// The separate admin listener, when configured.
        public var admin: Int?
    }

    /// The settings the gateway runs with.
    public let configuration: GatewayConfiguration
    /// The SQLite store.
    public let database: GatewayDatabase
    /// The callback-signing keys.
    public let keyRing: SigningKeyRing
    /// Mints and looks up callback URLs.
    public let callbacks: CallbackRegistry
    /// The installed connector plugins.
    public let plugins: PluginManager
    /// The workflow engine: runs, their workers, timers and outbox.
    public let engine: WorkflowEngine
    /// The admin token generated at this start, to be shown once; nil when one already existed
    /// or `CALLGATE_ADMIN_TOKEN` set it.
    public let generatedAdminToken: String?

    private let httpClient: HTTPClient
    /// The listener's certificate chain and key, resolved (and made, in development) by `open`.
    private let certificateFiles: (certificate: String, key: String)
    private let adminToken: AdminToken
    private let callbackHandlers: [String: any CallbackHandler]
    private let pluginInstances: PluginInstances
    private let metricsRegistry: PrometheusCollectorRegistry
    private let logger: Logger
    private let serviceGroup = Mutex<ServiceGroup?>(nil)

    private init(
        configuration: GatewayConfiguration,
        database: GatewayDatabase,
        keyRing: SigningKeyRing,
        callbacks: CallbackRegistry,
        plugins: PluginManager,
        engine: WorkflowEngine,
        httpClient: HTTPClient,
        certificateFiles: (certificate: String, key: String),
        adminToken: AdminToken.Setup,
        callbackHandlers: [String: any CallbackHandler],
        pluginInstances: PluginInstances,
        metricsRegistry: PrometheusCollectorRegistry,
        logger: Logger
    ) {
        self.configuration = configuration
        self.database = database
        self.keyRing = keyRing
        self.callbacks = callbacks
        self.plugins = plugins
        self.engine = engine
        self.httpClient = httpClient
        self.certificateFiles = certificateFiles
        self.adminToken = adminToken.token
        self.generatedAdminToken = adminToken.generated
        self.callbackHandlers = callbackHandlers
        self.pluginInstances = pluginInstances
        self.metricsRegistry = metricsRegistry
        self.logger = logger
    }

    /// Creates the data directory, opens the database, loads the keys and the admin token, and
    /// makes the development certificate when no certificate is configured.
    /// - Parameters:
    ///   - configuration: The resolved settings.
    ///   - presetAdminToken: `CALLGATE_ADMIN_TOKEN`, which replaces the stored token.
    ///   - bundledPlugins: Plugins linked into the gateway, started before the installed ones.
    ///   - callbackHandlers: Handlers for more callback owner kinds (triggers and waiting actions
    ///     are the engine's).
    ///   - callbackSteps: Step types that wait for a callback, beside those of plugins.
    ///   - logger: The gateway's logger.
    public static func open(
        configuration: GatewayConfiguration,
        presetAdminToken: String? = nil,
        bundledPlugins: [BundledPlugin] = [],
        callbackHandlers: [String: any CallbackHandler] = [:],
        callbackSteps: [String: any CallbackStep] = [:],
        logger: Logger
    ) async throws -> Gateway {
        // Read every input that can be wrong before anything is created on disk.
        let trustedKeys = try configuration.pluginTrustedKeysPath.map(TrustedPublisherKeys.load(from:)) ?? []
        // The data directory holds the database and the master key: private to the gateway's user.
        for directory in [configuration.dataDirectory, configuration.effectivePluginDirectory, configuration.dataDirectory + "/outbox"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let certificateFiles = try ListenerTLS.certificateFiles(for: configuration)
        var outboundTLS = TLSConfiguration.makeClientConfiguration()
        if let caPath = configuration.outboundCAPath {
            do {
                outboundTLS.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caPath))]
            } catch {
                throw SettingsLoader.LoadError(description: "outbound.ca_file '\(caPath)' cannot be read as PEM certificates: \(error)")
            }
        }
        let database = try GatewayDatabase(
            path: configuration.databasePath,
            writerConfiguration: .init(maxPendingWrites: configuration.limits.maxPendingWrites),
            logger: logger
        )
        let keyRing = try await SigningKeyRing(database: database, masterKeyPath: configuration.masterKeyPath)
        let token = try await AdminToken.ensure(database: database, presetToken: presetAdminToken)
        let callbacks = CallbackRegistry(database: database, signer: CallbackSigner(keyRing: keyRing), publicBaseURL: configuration.effectivePublicURL)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: outboundTLS))
        let egress = EgressPolicy(denyPrivateNetworks: configuration.egressDenyPrivateNetworks)
        let authenticator = OutboundAuthenticator(httpClient: httpClient, egress: egress, baseTLS: outboundTLS)
        let metricsRegistry = PrometheusCollectorRegistry()
        let triggers = TriggerStarter()
        let plugins: PluginManager
        do {
            plugins = try PluginManager(
                directory: configuration.effectivePluginDirectory,
                environment: PluginHostEnvironment(
                    database: database,
                    callbacks: callbacks,
                    httpClient: httpClient,
                    egress: egress,
                    authenticator: authenticator,
                    logger: logger,
                    triggers: triggers,
                    setGauge: { [metricsRegistry] name, labels, value in metricsRegistry.makeGauge(name: name, labels: labels).set(value) }
                ),
                trustedPublisherKeys: trustedKeys
            )
            await plugins.startBundled(bundledPlugins)
            try await plugins.loadInstalled()
        } catch {
            // An HTTP client must be shut down before it is released.
            try? await httpClient.shutdown()
            throw error
        }
        let steps = CallbackStepRegistry(callbackSteps)
        let engine = WorkflowEngine(
            database: database,
            callbacks: callbacks,
            httpClient: httpClient,
            egress: egress,
            authenticator: authenticator,
            callbackSteps: steps,
            configuration: configuration.engine,
            parser: { [plugins] in try await definitionParser(plugins: plugins, callbackSteps: steps) },
            logger: logger
        )
        let instances = PluginInstances()
        await startPluginInstances(
            plugins: plugins, instances: instances, steps: steps, database: database, configuration: configuration, logger: logger
        )
        triggers.connect { [engine] request, dedupeKey in try await Self.fire(request, dedupeKey: dedupeKey, engine: engine) }
        var handlers = callbackHandlers
        handlers[TriggerCallbackHandler.ownerKind] = TriggerCallbackHandler(engine: engine)
        handlers[ActionCallbackHandler.ownerKind] = ActionCallbackHandler(engine: engine)
        handlers[StepLinkCallbackHandler.ownerKindPrefix] = StepLinkCallbackHandler(engine: engine)
        return Gateway(
            configuration: configuration,
            database: database,
            keyRing: keyRing,
            callbacks: callbacks,
            plugins: plugins,
            engine: engine,
            httpClient: httpClient,
            certificateFiles: certificateFiles,
            adminToken: token,
            callbackHandlers: handlers,
            pluginInstances: instances,
            metricsRegistry: metricsRegistry,
            logger: logger
        )
    }

    /// `fire_trigger` of a plugin: the request's subscription and outputs to the engine.
    private static func fire(_ request: [UInt8], dedupeKey: String?, engine: WorkflowEngine) async throws -> [UInt8] {
        guard let object = try? ExpressionValue(json: Data(request)), let subscription = object["subscription"]?.string else {
            throw TriggerStarter.Refusal.invalid("fire_trigger needs {\"subscription\", \"outputs\"}")
        }
        let started: WorkflowEngine.StartedRun
        do {
            started = try await engine.fireTrigger(subscriptionID: subscription, outputs: object["outputs"] ?? .object([:]), dedupeKey: dedupeKey)
        } catch let error as EngineError {
            switch error.kind {
            case .notFound: throw TriggerStarter.Refusal.ended(error.description)
            case .busy, .conflict: throw TriggerStarter.Refusal.busy(error.description)
            case .invalid: throw TriggerStarter.Refusal.invalid(error.description)
            }
        } catch let error as StoreError where error.isOverloaded {
            throw TriggerStarter.Refusal.busy("the store is overloaded")
        }
        var answer: [String: ExpressionValue] = [
            "runIds": .array(started.runIDs.map { .string($0) }), "duplicate": .bool(started.duplicate),
        ]
        if let first = started.runID { answer["runId"] = .string(first) }
        return Array(ExpressionValue.object(answer).jsonText.utf8)
    }

    /// Creates each loaded plugin's instance (with the gateway's plugin configuration) for its
    /// routes, and makes its action and trigger types runnable as waiting steps and subscribed
    /// triggers (a type already served by a step given to the gateway keeps that one). `only`
    /// limits it to one plugin (just installed).
    static func startPluginInstances(
        plugins: PluginManager, instances: PluginInstances, steps registry: CallbackStepRegistry, database: GatewayDatabase,
        configuration: GatewayConfiguration, logger: Logger, only: String? = nil
    ) async {
        let records = (try? await plugins.list()) ?? []
        for record in records where record.state == "loaded" && (only == nil || record.id == only) {
            guard let plugin = plugins.plugin(id: record.id) else { continue }
            do {
                let instance = try await plugin.createInstance(configuration: configuration.pluginInstanceConfiguration(pluginID: record.id))
                instances.register(plugin, instance: instance)
                for step in try await PluginCallbackStep.steps(of: plugin, instance: instance, database: database) {
                    switch step.kind {
                    case .action where registry.step(for: step.type) == nil || only != nil:
                        registry.register(step, for: step.type)
                    case .trigger where registry.trigger(for: step.type) == nil || only != nil:
                        registry.registerTrigger(step, for: step.type)
                    default:
                        break
                    }
                }
            } catch {
                logger.warning("plugin \(record.id): its instance cannot start, so its actions, triggers and routes are unavailable: \(error)")
            }
        }
    }

    /// The parser for the step types available now: built-in ones, the callback steps given to
    /// the gateway, and those loaded plugins declare.
    static func definitionParser(plugins: PluginManager, callbackSteps: CallbackStepRegistry) async throws -> DefinitionParser {
        let descriptions = try await plugins.list().compactMap { record in
            record.description.flatMap { try? ExpressionValue(json: Data($0.utf8)) }
        }
        let catalog = StepTypeCatalog.builtIn
            .adding(triggers: callbackSteps.triggerTypes, actions: callbackSteps.stepTypes)
            .adding(pluginDescriptions: descriptions)
        return DefinitionParser(catalog: catalog)
    }

    /// Serves until SIGINT, SIGTERM or ``shutdown()``, then drains in-flight requests and closes
    /// the store.
    /// - Parameter onListening: Called once every listener is bound.
    public func run(onListening: @escaping @Sendable (BoundPorts) async -> Void = { _ in }) async throws {
        let files = certificateFiles
        let ports = Mutex<(main: Int?, admin: Int?)>((nil, nil))
        let expectsAdmin = configuration.adminListen != nil
        // Report once both listeners (or the only one) are bound.
        let report: @Sendable (_ isAdmin: Bool, _ port: Int) async -> Void = { isAdmin, port in
            let ready: BoundPorts? = ports.withLock { ports in
                if isAdmin { ports.admin = port } else { ports.main = port }
                guard let main = ports.main, !expectsAdmin || ports.admin != nil else { return nil }
                return BoundPorts(main: main, admin: ports.admin)
            }
            if let ready { await onListening(ready) }
        }

        var services: [any Service] = [engine]
        let mainTLS = try ListenerTLS.serverConfiguration(
            certificatePath: files.certificate, keyPath: files.key, minimumVersion: configuration.tlsMinimumVersion
        )
        services.append(
            makeApplication(
                router: makeRouter(servesCallbacks: true, servesAdmin: !expectsAdmin),
                address: configuration.listen,
                tls: mainTLS,
                onBound: { await report(false, $0) }
            )
        )
        if let adminListen = configuration.adminListen {
            let adminTLS = try ListenerTLS.serverConfiguration(
                certificatePath: files.certificate, keyPath: files.key,
                minimumVersion: configuration.tlsMinimumVersion, clientCAPath: configuration.adminClientCAPath
            )
            services.append(
                makeApplication(
                    router: makeRouter(servesCallbacks: false, servesAdmin: true),
                    address: adminListen,
                    tls: adminTLS,
                    onBound: { await report(true, $0) }
                )
            )
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        serviceGroup.withLock { $0 = group }
        defer { database.writer.close() }
        do {
            try await group.run()
        } catch {
            await stopPluginsAndClient()
            throw error
        }
        await stopPluginsAndClient()
    }

    /// Stops accepting connections, lets in-flight requests finish, and makes ``run(onListening:)`` return.
    public func shutdown() async {
        let group = serviceGroup.withLock { $0 }
        await group?.triggerGracefulShutdown()
    }

    private func stopPluginsAndClient() async {
        await plugins.shutdownAll()
        try? await httpClient.shutdown()
    }

    private func makeRouter(servesCallbacks: Bool, servesAdmin: Bool) -> Router<BasicRequestContext> {
        let router = Router()
        let limits = configuration.limits
        router.add(middleware: RequestMetricsMiddleware(factory: PrometheusMetricsFactory(registry: metricsRegistry)))
        router.add(middleware: RequestLimitsMiddleware(limits: limits))

        router.get("healthz") { _, _ in try jsonResponse(["status": "ok"]) }
        router.get("readyz") { [database, plugins] _, _ in
            // Ready = the store answers and installed plugins were loaded (a plugin that failed or
            // is quarantined is reported, but does not make the gateway unready).
            do {
                _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
                let records = try await plugins.list()
                let loaded = records.filter { $0.state == "loaded" }.count
                return try jsonResponse(["status": "ready", "store": "ok", "plugins": "\(loaded) of \(records.count) loaded"])
            } catch {
                return try jsonResponse(["status": "not ready", "store": "\(error)"], status: .serviceUnavailable)
            }
        }

        if servesCallbacks {
            let route = CallbackRoute(registry: callbacks, handlers: callbackHandlers, maxBodyBytes: limits.maxBodyBytes, logger: logger)
            for method in CallbackRoute.methods {
                router.on("cb/{id}", method: method) { request, context in
                    try await route.handle(request, id: try context.parameters.require("id"))
                }
            }
            let publicRoutes = PluginRoutes(instances: pluginInstances, maxBodyBytes: limits.maxBodyBytes)
            for method in CallbackRoute.methods {
                router.on("plugins/{plugin}/**", method: method) { request, context in
                    try await publicRoutes.handle(request, pluginID: try context.parameters.require("plugin"), access: .public)
                }
            }
        }

        if servesAdmin {
            router.get("metrics") { [metricsRegistry] _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: metricsRegistry.emitToBuffer()))
                )
            }
            let api = router.group("api/v1").add(middleware: BearerTokenMiddleware(token: adminToken))
            api.get("openapi.yaml") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
            }
            KeysAPI(keyRing: keyRing).register(on: api)
            PluginsAPI(plugins: plugins, installed: { [plugins, pluginInstances, engine, database, configuration, logger] id in
                await Self.startPluginInstances(
                    plugins: plugins, instances: pluginInstances, steps: engine.callbackSteps, database: database,
                    configuration: configuration, logger: logger, only: id
                )
            }).register(on: api)
            let parser: @Sendable () async throws -> DefinitionParser = { [plugins, engine] in
                try await Self.definitionParser(plugins: plugins, callbackSteps: engine.callbackSteps)
            }
            WorkflowsAPI(workflows: WorkflowRepository(database: database), engine: engine, parser: parser, maxBodyBytes: limits.maxBodyBytes).register(on: api)
            RunsAPI(engine: engine).register(on: api)
            let adminRoutes = PluginRoutes(instances: pluginInstances, maxBodyBytes: limits.maxBodyBytes)
            for method in CallbackRoute.methods {
                api.on("plugins/{id}/**", method: method) { request, context in
                    try await adminRoutes.handle(request, pluginID: try context.parameters.require("id"), access: .admin)
                }
            }
        }
        return router
    }

    private func makeApplication(
        router: Router<BasicRequestContext>,
        address: GatewayConfiguration.ListenAddress,
        tls: TLSConfiguration,
        onBound: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let limits = configuration.limits
        let headTimeout = TimeAmount.seconds(Int64(limits.requestHeadTimeoutSeconds))
        let idleTimeout = TimeAmount.seconds(Int64(limits.idleTimeoutSeconds))
        // NIO's parser is the hard ceiling, well above the limits the middleware answers with
        // 414/431; past it the parser fails and the connection gets 400 and is closed.
        let parserCeiling = 4 * (limits.maxHeaderBytes + limits.maxURLLength)
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestHeadDeadlineHandler(headTimeout: headTimeout, idleTimeout: idleTimeout)],
            idleTimeout: idleTimeout,
            httpDecoderConfiguration: .init(maxHeaderFieldSize: parserCeiling, maxHeaderListSize: parserCeiling, maxHeaderFieldCount: 1000)
        )
        let server = HTTPServerBuilder { responder in
            try TLSChannel(HTTP1Channel(responder: responder, configuration: http1), tlsConfiguration: tls)
        }
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(address.host, port: address.port),
                serverName: "Callgate",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections)
            ),
            onServerRunning: { channel in await onBound(channel.localAddress?.port ?? address.port) },
            logger: logger
        )
    }
}
