import CallgateServer
import Foundation
import Testing

@Suite struct WorkflowsAPITests {
    static let definition = #"""
    {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
                    "actions": {"Echo": {"type": "Compose", "inputs": "@triggerBody()"}}}}
    """#

    @Test func deployListShowRedeployDisableEnableDelete() async throws {
        let gateway = try await TestGateway.start()
        let created = try await gateway.admin(.PUT, "/api/v1/workflows/orders", body: Array(Self.definition.utf8))
        #expect(created.status == 201)
        let workflow = try #require(try created.json()["workflow"] as? [String: Any])
        #expect(workflow["version"] as? Int == 1)
        #expect(workflow["enabled"] as? Bool == true)
        #expect(workflow["triggerType"] as? String == "Request")

        let redeployed = try await gateway.admin(.PUT, "/api/v1/workflows/orders", body: Array(Self.definition.utf8))
        #expect(redeployed.status == 200)
        #expect((try redeployed.json()["workflow"] as? [String: Any])?["version"] as? Int == 2)

        let shown = try await gateway.admin(.GET, "/api/v1/workflows/orders")
        #expect(((try shown.json()["definition"] as? [String: Any])?["definition"] as? [String: Any])?["actions"] != nil)
        let disabled = try await gateway.admin(.POST, "/api/v1/workflows/orders:disable")
        #expect((try disabled.json()["workflow"] as? [String: Any])?["enabled"] as? Bool == false)
        let enabled = try await gateway.admin(.POST, "/api/v1/workflows/orders:enable")
        #expect((try enabled.json()["workflow"] as? [String: Any])?["enabled"] as? Bool == true)
        let list = try await gateway.admin(.GET, "/api/v1/workflows")
        #expect((try list.json()["workflows"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["orders"])

        #expect(try await gateway.admin(.DELETE, "/api/v1/workflows/orders").status == 204)
        #expect(try await gateway.admin(.GET, "/api/v1/workflows/orders").status == 404)
        // Versions are kept: a new deploy of the same name continues the numbering.
        let again = try await gateway.admin(.PUT, "/api/v1/workflows/orders", body: Array(Self.definition.utf8))
        #expect((try again.json()["workflow"] as? [String: Any])?["version"] as? Int == 3)
        try await gateway.stopAndRemove()
    }

    @Test func anInvalidDefinitionIsRefusedWithEveryProblemAndNothingIsStored() async throws {
        let gateway = try await TestGateway.start()
        let bad = #"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Http", "inputs": {"method": "GET"}}, "b": {"type": "Compose", "inputs": "@listCallbackUrl()"}}}"#
        let refused = try await gateway.admin(.PUT, "/api/v1/workflows/bad", body: Array(bad.utf8))
        #expect(refused.status == 400)
        let error = try #require(try refused.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "invalid_definition")
        #expect(error["message"] as? String == "the definition has 2 problems")
        let problems = try #require(error["problems"] as? [[String: String]])
        #expect(problems.contains(["path": "$.actions.a.inputs.uri", "message": "missing: Http needs inputs.uri"]))
        #expect(problems.contains(["path": "$.actions.b.inputs", "message": "listCallbackUrl() is used where no callback exists"]))
        #expect(try await gateway.admin(.GET, "/api/v1/workflows/bad").status == 404)
        let badName = try await gateway.admin(.PUT, "/api/v1/workflows/no%20spaces", body: Array(Self.definition.utf8))
        #expect(badName.status == 400)
        try await gateway.stopAndRemove()
    }
}
