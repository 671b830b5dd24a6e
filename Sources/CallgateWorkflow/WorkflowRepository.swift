import CallgateExpressions
import CallgateStore
import Foundation
import GRDB

/// Deployed workflows and every version of their definitions, in the gateway's database.
public struct WorkflowRepository: Sendable {
    /// A workflow as the API and CLI show it.
    public struct Summary: Sendable, Codable, Equatable {
        public var name: String
        public var enabled: Bool
        public var version: Int
        public var trigger: String
        public var triggerType: String
        public var actions: Int
        public var createdAt: Date
        public var updatedAt: Date
    }

    /// Why a workflow operation was refused.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable { case invalidName, notFound, invalidDefinition }
        public let kind: Kind
        public let description: String
        /// For `invalidDefinition`: every problem with its JSON path.
        public let problems: [DefinitionProblem]
    }

    private let database: GatewayDatabase

    public init(database: GatewayDatabase) {
        self.database = database
    }

    /// Checks a workflow name: letters, digits, `-`, `_`, `.`; 1 to 80 characters.
    public static func validate(name: String) throws(Failure) {
        guard (1...80).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw Failure(kind: .invalidName, description: "workflow name '\(name)' may hold only letters, digits, '-', '_' and '.' (80 at most)", problems: [])
        }
    }

    /// Validates `definition` and stores it as the workflow's next version (creating the workflow,
    /// enabled, when it is new). Nothing is stored when validation fails.
    /// - Returns: the summary and whether the workflow was created.
    public func deploy(name: String, definition: Data, parser: DefinitionParser) async throws -> (Summary, created: Bool) {
        try Self.validate(name: name)
        do {
            _ = try parser.parse(definition)
        } catch {
            throw Failure(
                kind: .invalidDefinition,
                description: "the definition has \(error.problems.count) problem\(error.problems.count == 1 ? "" : "s")",
                problems: error.problems
            )
        }
        let text = String(decoding: definition, as: UTF8.self)
        let now = Date().timeIntervalSince1970
        let created = try await database.write { db -> Bool in
            let last = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM workflow_version WHERE workflow = ?", arguments: [name]) ?? 0
            try db.execute(
                sql: "INSERT INTO workflow_version (workflow, version, definition, deployed_at) VALUES (?, ?, ?, ?)",
                arguments: [name, last + 1, text, now]
            )
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM workflow WHERE name = ?", arguments: [name]) ?? false
            if exists {
                try db.execute(sql: "UPDATE workflow SET current_version = ?, updated_at = ? WHERE name = ?", arguments: [last + 1, now, name])
            } else {
                try db.execute(
                    sql: "INSERT INTO workflow (name, enabled, current_version, created_at, updated_at) VALUES (?, 1, ?, ?, ?)",
                    arguments: [name, last + 1, now, now]
                )
            }
            return !exists
        }
        return (try await summary(name: name, parser: parser), created)
    }

    /// Every workflow, by name.
    public func list(parser: DefinitionParser) async throws -> [Summary] {
        let names = try await database.read { db in try String.fetchAll(db, sql: "SELECT name FROM workflow ORDER BY name") }
        var summaries: [Summary] = []
        for name in names { summaries.append(try await summary(name: name, parser: parser)) }
        return summaries
    }

    /// One workflow with its live definition text.
    public func show(name: String, parser: DefinitionParser) async throws -> (Summary, definition: String) {
        let summary = try await summary(name: name, parser: parser)
        let text = try await database.read { db in
            try String.fetchOne(db, sql: "SELECT definition FROM workflow_version WHERE workflow = ? AND version = ?", arguments: [name, summary.version])
        }
        return (summary, text ?? "{}")
    }

    /// Enables or disables a workflow.
    public func setEnabled(name: String, _ enabled: Bool, parser: DefinitionParser) async throws -> Summary {
        let changed = try await database.write { db -> Bool in
            try db.execute(sql: "UPDATE workflow SET enabled = ?, updated_at = ? WHERE name = ?", arguments: [enabled, Date().timeIntervalSince1970, name])
            return db.changesCount > 0
        }
        guard changed else { throw Self.notFound(name) }
        return try await summary(name: name, parser: parser)
    }

    /// Deletes a workflow; its versions stay (runs refer to them), and a later deploy of the same
    /// name continues their numbering.
    public func delete(name: String) async throws {
        let deleted = try await database.write { db -> Bool in
            try db.execute(sql: "DELETE FROM workflow WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
        guard deleted else { throw Self.notFound(name) }
    }

    private static func notFound(_ name: String) -> Failure {
        Failure(kind: .notFound, description: "no workflow '\(name)'", problems: [])
    }

    private func summary(name: String, parser: DefinitionParser) async throws -> Summary {
        struct Row: Sendable { let enabled: Bool, version: Int, created: Double, updated: Double, definition: String }
        let row = try await database.read { db -> Row? in
            guard let row = try GRDB.Row.fetchOne(
                db,
                sql: """
                    SELECT w.enabled, w.current_version, w.created_at, w.updated_at, v.definition
                    FROM workflow w JOIN workflow_version v ON v.workflow = w.name AND v.version = w.current_version
                    WHERE w.name = ?
                    """,
                arguments: [name]
            ) else { return nil }
            return Row(enabled: row[0], version: row[1], created: row[2], updated: row[3], definition: row[4])
        }
        guard let row else { throw Self.notFound(name) }
        // A stored definition was valid when deployed; a plugin removed since may make it invalid
        // now, which the summary shows rather than hides.
        let definition = try? parser.parse(Data(row.definition.utf8))
        return Summary(
            name: name, enabled: row.enabled, version: row.version,
            trigger: definition?.trigger.name ?? "?", triggerType: definition?.trigger.type ?? "?",
            actions: definition?.actions.count ?? 0,
            createdAt: Date(timeIntervalSince1970: row.created), updatedAt: Date(timeIntervalSince1970: row.updated)
        )
    }
}
