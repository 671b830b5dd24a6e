import CallgateServer
import Foundation
import Testing
import Yams

@Suite struct AdminAPITests {
    @Test func theAdminAPINeedsTheRightBearerToken() async throws {
        let gateway = try await TestGateway.start()
        let none = try await gateway.request(.GET, "/api/v1/keys")
        #expect(none.status == 401)
        #expect(try none.errorCode() == "unauthorized")
        #expect(none.headers.first(name: "WWW-Authenticate") == "Bearer")
        let wrong = try await gateway.request(.GET, "/api/v1/keys", headers: [("Authorization", "Bearer not-the-token")])
        #expect(wrong.status == 401)
        let basic = try await gateway.request(.GET, "/api/v1/keys", headers: [("Authorization", "Basic \(TestGateway.adminToken)")])
        #expect(basic.status == 401)
        let right = try await gateway.admin(.GET, "/api/v1/keys")
        #expect(right.status == 200)
        let keys = try #require(try right.json()["keys"] as? [[String: Any]])
        #expect(keys.count == 1)
        #expect(keys.first?["id"] as? String == "k1")
        #expect(keys.first?["status"] as? String == "primary")
        #expect(keys.first?["secret"] == nil)
        try await gateway.stopAndRemove()
    }

    @Test func keysRotateAndRetireThroughTheAPI() async throws {
        let gateway = try await TestGateway.start()
        let rotated = try await gateway.admin(.POST, "/api/v1/keys:rotate")
        #expect(rotated.status == 201)
        #expect((try rotated.json()["key"] as? [String: Any])?["id"] as? String == "k2")
        let retirePrimary = try await gateway.admin(.POST, "/api/v1/keys/k2:retire")
        #expect(retirePrimary.status == 409)
        #expect(try retirePrimary.errorCode() == "conflict")
        let retireUnknown = try await gateway.admin(.POST, "/api/v1/keys/k7:retire")
        #expect(retireUnknown.status == 404)
        let retire = try await gateway.admin(.POST, "/api/v1/keys/k1:retire")
        #expect(retire.status == 200)
        #expect((try retire.json()["key"] as? [String: Any])?["status"] as? String == "retired")
        let list = try await gateway.admin(.GET, "/api/v1/keys")
        let statuses = (try list.json()["keys"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
        #expect(statuses == ["primary", "retired"])
        try await gateway.stopAndRemove()
    }

    @Test func theOpenAPIDocumentDescribesEveryAdminRoute() async throws {
        let gateway = try await TestGateway.start()
        let response = try await gateway.admin(.GET, "/api/v1/openapi.yaml")
        #expect(response.status == 200)
        let document = try #require(try Yams.load(yaml: response.text) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        let described = Set(paths.flatMap { path, operations in
            // Path items also hold `parameters` and `description`; only methods are operations.
            ((operations as? [String: Any]) ?? [:]).keys.filter { ["get", "put", "post", "delete", "patch"].contains($0) }.map { "\($0.uppercased()) \(path)" }
        })
        let routes: Set<String> = [
            "GET /api/v1/openapi.yaml", "GET /api/v1/keys", "POST /api/v1/keys:rotate", "POST /api/v1/keys/{id}:retire",
            "GET /api/v1/plugins", "POST /api/v1/plugins", "GET /api/v1/plugins/{id}", "DELETE /api/v1/plugins/{id}",
            "GET /api/v1/workflows", "PUT /api/v1/workflows/{name}", "GET /api/v1/workflows/{name}", "DELETE /api/v1/workflows/{name}",
            "POST /api/v1/workflows/{name}:enable", "POST /api/v1/workflows/{name}:disable",
            "POST /api/v1/workflows/{name}/triggers/{trigger}/callback-url",
            "GET /api/v1/runs", "GET /api/v1/runs/{id}", "POST /api/v1/runs/{id}:cancel",
            "GET /api/v1/plugins/{id}/{path}", "PUT /api/v1/plugins/{id}/{path}", "POST /api/v1/plugins/{id}/{path}",
            "DELETE /api/v1/plugins/{id}/{path}",
        ]
        #expect(described == routes)
        try await gateway.stopAndRemove()
    }
}
