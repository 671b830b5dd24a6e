import CallgateCallbacks
import CallgateStore
import Foundation
import Logging
import Testing
import CallgateTesting

/// A key ring on a real SQLite file in a temporary directory.
private struct Fixture {
    let directory: TemporaryDirectory
    let database: GatewayDatabase
    let keyRing: SigningKeyRing
    var signer: CallbackSigner { CallbackSigner(keyRing: keyRing) }

    init(directory: TemporaryDirectory? = nil) async throws {
        let directory = try directory ?? TemporaryDirectory()
        self.directory = directory
        database = try GatewayDatabase(path: directory.path + "/callgate.sqlite", logger: Logger(label: "test"))
        keyRing = try await SigningKeyRing(database: database, masterKeyPath: directory.path + "/master.key")
    }
}

@Suite struct CallbackSignerTests {
    @Test func mintedURLVerifies() async throws {
        let fixture = try await Fixture()
        defer { fixture.directory.remove() }
        let fields = try fixture.signer.sign(id: CallbackSigner.newCallbackID(), scope: "trigger", expiresAt: Date().addingTimeInterval(3600))
        let parsed = try CallbackURLFields.parse(id: fields.id, query: String(fields.pathAndQuery.split(separator: "?")[1]))
        #expect(parsed == fields)
        try fixture.signer.verify(parsed)
        #expect(fields.id.count == 22)
        #expect(fields.url(publicBaseURL: "https://gw.example/").hasPrefix("https://gw.example/cb/\(fields.id)?sv=1&sp=trigger&kid=k1&exp="))
    }

    @Test func everySingleCharacterTamperingFails() async throws {
        let fixture = try await Fixture()
        defer { fixture.directory.remove() }
        let signer = fixture.signer
        let original = try signer.sign(id: CallbackSigner.newCallbackID(), scope: "resume/step-1", expiresAt: Date().addingTimeInterval(86_400))
        let alphabet = Array("ABCabc0189-_k/.~")
        var tried = 0
        func tampered(_ text: String, at offset: Int) -> [String] {
            let characters = Array(text)
            return alphabet.filter { $0 != characters[offset] }.map { replacement in
                var copy = characters
                copy[offset] = replacement
                return String(copy)
            }
        }
        let fieldsToTamper: [(String, WritableKeyPath<CallbackURLFields, String>)] = [
            ("id", \.id), ("kid", \.keyID), ("sig", \.signature), ("scope", \.scope),
        ]
        for (name, keyPath) in fieldsToTamper {
            let value = original[keyPath: keyPath]
            for offset in value.indices.map({ value.distance(from: value.startIndex, to: $0) }) {
                for variant in tampered(value, at: offset) {
                    var fields = original
                    fields[keyPath: keyPath] = variant
                    tried += 1
                    #expect(throws: CallbackError.self, "\(name) tampered to \(variant) still verifies") { try signer.verify(fields) }
                }
            }
        }
        // exp travels as text in the URL: tamper the text, then parse as the route does.
        let expText = String(try #require(original.expiresAt))
        for offset in 0..<expText.count {
            for variant in tampered(expText, at: offset) {
                tried += 1
                let query = "sv=1&sp=\(original.scope)&kid=\(original.keyID)&exp=\(variant)&sig=\(original.signature)"
                #expect(throws: CallbackError.self, "exp tampered to \(variant) still verifies") {
                    try signer.verify(try CallbackURLFields.parse(id: original.id, query: query))
                }
            }
        }
        // Removing the expiry entirely must fail too.
        var withoutExpiry = original
        withoutExpiry.expiresAt = nil
        #expect(throws: CallbackError.badSignature) { try signer.verify(withoutExpiry) }
        #expect(tried > 1_000)
    }

    @Test func expiredURLFails() async throws {
        let fixture = try await Fixture()
        defer { fixture.directory.remove() }
        let fields = try fixture.signer.sign(id: CallbackSigner.newCallbackID(), scope: "trigger", expiresAt: Date().addingTimeInterval(60))
        try fixture.signer.verify(fields)
        #expect(throws: CallbackError.expired) { try fixture.signer.verify(fields, now: Date().addingTimeInterval(120)) }
    }

    @Test func retiredKeyFailsWhileTheNewPrimaryVerifies() async throws {
        let fixture = try await Fixture()
        defer { fixture.directory.remove() }
        let old = try fixture.signer.sign(id: CallbackSigner.newCallbackID(), scope: "trigger")
        let rotated = try await fixture.keyRing.rotate()
        #expect(rotated.id == "k2")
        #expect(rotated.status == .primary)
        // After rotation the old key still verifies what it signed.
        try fixture.signer.verify(old)
        let new = try fixture.signer.sign(id: CallbackSigner.newCallbackID(), scope: "trigger")
        #expect(new.keyID == "k2")

        await #expect(throws: CallbackError.cannotRetirePrimary("k2")) { try await fixture.keyRing.retire(id: "k2") }
        await #expect(throws: CallbackError.keyNotFound("k9")) { try await fixture.keyRing.retire(id: "k9") }
        let retired = try await fixture.keyRing.retire(id: "k1")
        #expect(retired.status == .retired)
        #expect(retired.retiredAt != nil)
        #expect(throws: CallbackError.retiredKey) { try fixture.signer.verify(old) }
        try fixture.signer.verify(new)
        #expect(fixture.keyRing.list().map(\.id) == ["k2", "k1"])
    }

    @Test func keysSurviveARestartAndSecretsAreSealedAtRest() async throws {
        let first = try await Fixture()
        defer { first.directory.remove() }
        let fields = try first.signer.sign(id: CallbackSigner.newCallbackID(), scope: "trigger")
        try await first.keyRing.rotate()
        try await first.keyRing.retire(id: "k1")
        let keyFileMode = try FileManager.default.attributesOfItem(atPath: first.directory.path + "/master.key")[.posixPermissions] as? Int
        #expect(keyFileMode == 0o600)

        let second = try await Fixture(directory: first.directory)
        #expect(second.keyRing.list().map(\.status) == [.primary, .retired])
        #expect(throws: CallbackError.retiredKey) { try second.signer.verify(fields) }
        let newer = try first.signer.sign(id: CallbackSigner.newCallbackID(), scope: "trigger")
        try second.signer.verify(newer)

        // A different master key cannot open the stored secrets.
        try FileManager.default.removeItem(atPath: first.directory.path + "/master.key")
        await #expect(throws: CallbackError.masterKey("")) {
            _ = try await SigningKeyRing(database: second.database, masterKeyPath: first.directory.path + "/master.key")
        }
    }

    @Test(arguments: [
        ("sv=1&sp=t&kid=k1", "missing sig"),
        ("sp=t&kid=k1&sig=x", "missing sv"),
        ("sv=2&sp=t&kid=k1&sig=x", "unsupported sv"),
        ("sv=1&sp=t&kid=k1&sig=x&sig=y", "repeated sig"),
        ("sv=1&sp=t&kid=k1&exp=+5&sig=x", "signed exp"),
        ("sv=1&sp=t&kid=k1&exp=&sig=x", "empty exp"),
        ("sv=1&kid=k1&sig=x", "missing sp"),
    ])
    func malformedQueriesAreRefused(query: String, why: String) {
        #expect(throws: CallbackError.malformed(""), "\(why)") { try CallbackURLFields.parse(id: "abc", query: query) }
    }

    @Test func registryMintsLooksUpAndCloses() async throws {
        let fixture = try await Fixture()
        defer { fixture.directory.remove() }
        let registry = CallbackRegistry(database: fixture.database, signer: fixture.signer, publicBaseURL: "https://gw.example")
        let owner = CallbackOwner(kind: "action", workflow: "orders", runID: "r1", step: "wait_for_payment")
        let minted = try await registry.mint(owner: owner, scope: "resume")
        #expect(minted.url.hasPrefix("https://gw.example/cb/\(minted.id)?"))
        let found = try #require(try await registry.registration(id: minted.id))
        #expect(found.owner == owner)
        #expect(found.state == .active)
        try await registry.close(id: minted.id)
        #expect(try await registry.registration(id: minted.id)?.state == .closed)
        #expect(try await registry.registration(id: "nope") == nil)
    }
}
