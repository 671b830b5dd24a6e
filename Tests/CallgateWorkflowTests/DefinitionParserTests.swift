import CallgateExpressions
import CallgateWorkflow
import Foundation
import Testing

@Suite struct DefinitionParserTests {
    let parser = DefinitionParser()

    /// A realistic approval-through-an-outside-service workflow, wrapped as Logic Apps exports it.
    static let approval = #"""
    {
      "definition": {
        "$schema": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"approverService": {"type": "String", "defaultValue": "http://127.0.0.1:9000"}},
        "triggers": {
          "manual": {"type": "Request", "kind": "Http", "inputs": {"schema": {"type": "object"}}}
        },
        "actions": {
          "Ask_for_approval": {
            "type": "HttpWebhook",
            "inputs": {
              "subscribe": {
                "method": "POST",
                "uri": "@{parameters('approverService')}/subscriptions",
                "body": {"callbackUrl": "@{listCallbackUrl()}", "order": "@triggerBody()?['orderId']"}
              },
              "unsubscribe": {
                "method": "DELETE",
                "uri": "@{parameters('approverService')}/subscriptions/@{subscribeResponse()?['body']?['id']}"
              }
            },
            "limit": {"timeout": "PT24H"},
            "runtimeConfiguration": {"secureData": {"properties": ["inputs"]}}
          },
          "Check": {
            "type": "If",
            "expression": {"and": [{"equals": ["@body('Ask_for_approval')?['decision']", "approve"]}]},
            "actions": {"Approved": {"type": "Compose", "inputs": "approved"}},
            "else": {"actions": {"Rejected": {"type": "Terminate", "inputs": {"runStatus": "Cancelled"}}}},
            "runAfter": {"Ask_for_approval": ["Succeeded"]}
          },
          "Reply": {
            "type": "Response",
            "inputs": {"statusCode": 200, "body": {"result": "@body('Ask_for_approval')"}},
            "runAfter": {"Check": ["Succeeded", "Failed"]}
          }
        },
        "outputs": {}
      },
      "parameters": {"approverService": {"value": "http://127.0.0.1:9100"}}
    }
    """#

    @Test func aRealisticWrappedDefinitionDecodes() throws {
        let definition = try parser.parse(Data(Self.approval.utf8))
        #expect(definition.trigger.name == "manual")
        #expect(definition.trigger.type == "Request")
        #expect(definition.actions.map(\.name) == ["Ask_for_approval", "Check", "Reply"])
        let ask = try #require(definition.actions.first)
        #expect(ask.timeout == "PT24H")
        #expect(ask.secureInputs)
        #expect(!ask.secureOutputs)
        let check = definition.actions[1]
        #expect(check.actions.map(\.name) == ["Approved"])
        #expect(check.elseActions.map(\.name) == ["Rejected"])
        #expect(definition.actions[2].runAfter["Check"] == [.succeeded, .failed])
        #expect(definition.parameterValues["approverService"] == .string("http://127.0.0.1:9100"))
        #expect(definition.parameters["approverService"]?.type == "String")
        #expect(ISODuration("PT24H")?.seconds == 86_400)
        #expect(ISODuration("P1DT12H30M")?.seconds == 131_400)
    }

    @Test func aBareDefinitionIsAcceptedToo() throws {
        let bare = #"{"triggers": {"t": {"type": "Request", "kind": "Http"}}, "actions": {"c": {"type": "Compose", "inputs": "@triggerBody()"}}}"#
        let definition = try parser.parse(Data(bare.utf8))
        #expect(definition.actions.first?.path == "$.actions.c")
    }

    /// Each bad definition is refused with the JSON path of the problem.
    @Test(arguments: [
        (#"{"triggers": {}}"#, "$.triggers", "a workflow has exactly one trigger; found 0"),
        (#"{"triggers": {"a": {"type": "Request"}, "b": {"type": "Request"}}}"#, "$.triggers", "a workflow has exactly one trigger; found 2"),
        (#"{"actions": {}}"#, "$.triggers", "missing: a workflow has exactly one trigger"),
        (#"{"triggers": {"t": {"type": "Nope"}}}"#, "$.triggers.t.type", "unknown trigger type 'Nope' (known: HttpWebhook, Request)"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Htp"}}}"#, "$.actions.a.type",
         "unknown action type 'Htp' (known: Compose, Foreach, Http, HttpWebhook, If, InitializeVariable, Response, Scope, SetVariable, Terminate, Wait)"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Http", "inputs": {"method": "GET"}}}}"#, "$.actions.a.inputs.uri", "missing: Http needs inputs.uri"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Compose", "inputs": 1, "runAfter": {"ghost": ["Succeeded"]}}}}"#,
         "$.actions.a.runAfter", "names 'ghost', which is not an action in the same scope"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Compose", "inputs": 1, "runAfter": {"b": ["Succeeded"]}}, "b": {"type": "Compose", "inputs": 1, "runAfter": {"a": ["Succeeded"]}}}}"#,
         "$.actions", "runAfter forms a cycle: a → b → a"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Compose", "inputs": 1, "runAfter": {"b": ["Done"]}}, "b": {"type": "Compose", "inputs": 1}}}"#,
         "$.actions.a.runAfter.b[0]", "must be one of Succeeded, Failed, Skipped, TimedOut"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Compose", "inputs": {"x": "@concat('a'"}}}}"#,
         "$.actions.a.inputs.x", "expression does not parse: expected ',' or ')' in the arguments of concat (at character 12)"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Compose", "inputs": {"x": ["ok", "@{nosuch()}"]}}}}"#,
         "$.actions.a.inputs.x[1]", "the function 'nosuch' does not exist"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Compose", "inputs": "@listCallbackUrl()"}}}"#,
         "$.actions.a.inputs", "listCallbackUrl() is used where no callback exists"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "HttpWebhook", "inputs": {"subscribe": {"method": "POST", "uri": "http://x", "body": "@subscribeResponse()"}}}}}"#,
         "$.actions.a.inputs.subscribe.body", "the function 'subscribeResponse' cannot be used here"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "HttpWebhook", "inputs": {"subscribe": {"method": "POST", "uri": "http://x"}}, "limit": {"timeout": "24 hours"}}}}"#,
         "$.actions.a.limit.timeout", "must be an ISO 8601 duration such as PT1H or P1DT12H"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"s": {"type": "Scope", "actions": {"inner": {"type": "Wait", "inputs": {"interval": {"count": 1}}}}}}}"#,
         "$.actions.s.actions.inner.inputs.interval.unit", "missing: Wait needs inputs.interval.unit"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"f": {"type": "Foreach", "actions": {}}}}"#,
         "$.actions.f.foreach", "missing: Foreach needs \"foreach\", an expression giving an array"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"Send mail": {"type": "Compose", "inputs": "@bad("}}}"#,
         "$.actions['Send mail'].inputs", "expression does not parse: expected a value or a function call, found the end (at character 6)"),
        ("[1, 2]", "$", "the workflow must be a JSON object"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"s": {"type": "Scope", "actions": {"a": {"type": "Compose", "inputs": 1}}}, "a": {"type": "Compose", "inputs": 2}}}"#,
         "$.actions.s.actions.a", "the action name 'a' is already used at $.actions.a; names must be unique in a workflow"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"w": {"type": "Wait", "inputs": {"until": {}}}}}"#,
         "$.actions.w.inputs.until.timestamp", "missing: Wait needs inputs.until.timestamp"),
        (#"{"triggers": {"t": {"type": "Request"}}, "actions": {"h": {"type": "HttpWebhook", "inputs": {"subscribe": {"method": "POST", "uri": "http://x"}}, "limit": {"heartbeat": 5}}}}"#,
         "$.actions.h.limit.heartbeat", "must be an ISO 8601 duration such as PT1H or P1DT12H"),
    ])
    func badDefinitionsAreRefusedWithTheJSONPath(json: String, path: String, message: String) {
        do {
            _ = try parser.parse(Data(json.utf8))
            Issue.record("accepted: \(json)")
        } catch {
            #expect(error.problems.contains(DefinitionProblem(path: path, message: message)), "\(error.problems)")
        }
    }

    @Test func waitTakesAnIntervalOrAnInstant() throws {
        let until = #"{"triggers": {"t": {"type": "Request"}}, "actions": {"w": {"type": "Wait", "inputs": {"until": {"timestamp": "2030-01-01T00:00:00Z"}}}}}"#
        #expect(try parser.parse(Data(until.utf8)).actions.first?.type == "Wait")
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let json = #"{"triggers": {"t": {"type": "Request"}}, "actions": {"a": {"type": "Http"}, "b": {"type": "Nope"}, "c": {"type": "Compose", "inputs": "@x("}}}"#
        do {
            _ = try parser.parse(Data(json.utf8))
            Issue.record("accepted")
        } catch {
            #expect(Set(error.problems.map(\.path)) == ["$.actions.a.inputs.method", "$.actions.a.inputs.uri", "$.actions.b.type", "$.actions.c.inputs"])
        }
    }

    @Test func triggerConditionsAndSplitOnAreReadAndChecked() throws {
        let good = #"{"triggers": {"t": {"type": "Request", "splitOn": "@triggerBody()?['items']", "conditions": [{"expression": "@equals(triggerBody()?['kind'], 'a')"}]}}, "actions": {}}"#
        let trigger = try parser.parse(Data(good.utf8)).trigger
        #expect(trigger.splitOn == "@triggerBody()?['items']")
        #expect(trigger.conditions == ["@equals(triggerBody()?['kind'], 'a')"])

        let bad = #"{"triggers": {"t": {"type": "Request", "splitOn": "items", "conditions": [{"expression": "@nope("}, {"when": "x"}]}}, "actions": {"r": {"type": "Response", "inputs": {"statusCode": 200}}}}"#
        do {
            _ = try parser.parse(Data(bad.utf8))
            Issue.record("accepted")
        } catch {
            #expect(Set(error.problems.map(\.path)) == ["$.triggers.t.splitOn", "$.triggers.t.conditions[0].expression", "$.triggers.t.conditions[1].expression"])
        }
        let withResponse = #"{"triggers": {"t": {"type": "Request", "splitOn": "@triggerBody()"}}, "actions": {"r": {"type": "Response", "inputs": {"statusCode": 200}}}}"#
        do {
            _ = try parser.parse(Data(withResponse.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.problems.map(\.path) == ["$.triggers.t.splitOn"])
            #expect(error.problems.first?.message.contains("$.actions.r") == true)
        }
    }

    @Test func pluginTypesExtendTheCatalog() throws {
        let catalog = StepTypeCatalog.builtIn.adding(
            triggers: ["OnEvents": StepType(requiredInputs: ["hub"])],
            actions: ["SendApprovalEmail": StepType(requiredInputs: ["To"], callbackInputs: ["Body"])]
        )
        let json = #"{"triggers": {"e": {"type": "OnEvents", "inputs": {"hub": "orders"}}}, "actions": {"m": {"type": "SendApprovalEmail", "inputs": {"To": "a@b.c", "Body": "@{listCallbackUrl()}"}}}}"#
        let definition = try DefinitionParser(catalog: catalog).parse(Data(json.utf8))
        #expect(definition.trigger.type == "OnEvents")
        #expect(throws: DefinitionError.self) { try DefinitionParser().parse(Data(json.utf8)) }
    }
}

@Suite struct ReadmeWorkflowTests {
    /// The workflow in the README's walk-through is valid, so the walk-through stays true.
    @Test func theReadmeWorkflowDeploys() throws {
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("README.md"),
            encoding: .utf8
        )
        let start = try #require(readme.range(of: "cat > orders.json <<'JSON'\n"))
        let end = try #require(readme.range(of: "\nJSON\n", range: start.upperBound..<readme.endIndex))
        let definition = try DefinitionParser().parse(Data(readme[start.upperBound..<end.lowerBound].utf8))
        #expect(definition.actions.first?.type == "HttpWebhook")
        #expect(definition.actions.first?.timeout == "PT1H")
    }
}
