/// The admin API's OpenAPI 3.1 description, served at `GET /api/v1/openapi.yaml`.
///
/// Kept beside the routes it describes; a test checks that every admin route appears here.
enum OpenAPIDocument {
    static let yaml = """
        openapi: 3.1.0
        info:
          title: Callgate admin API
          version: 1.0.0
          description: >-
            Operator API of the Callgate connector gateway. Every operation needs
            `Authorization: Bearer <admin token>`. Errors are
            `{"error": {"code": "...", "message": "...", "path": "..."}}`.
        security:
          - bearer: []
        paths:
          /api/v1/openapi.yaml:
            get:
              operationId: getOpenAPI
              summary: This document.
              responses:
                '200':
                  description: The OpenAPI document.
                  content:
                    application/yaml: {}
          /api/v1/keys:
            get:
              operationId: listKeys
              summary: List callback-signing keys (never their secrets).
              responses:
                '200':
                  description: The keys, newest first.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          keys:
                            type: array
                            items: {$ref: '#/components/schemas/SigningKey'}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /api/v1/keys:rotate:
            post:
              operationId: rotateKeys
              summary: Make a new primary key; the old primary keeps verifying the URLs it signed.
              responses:
                '201':
                  description: The new primary key.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/KeyResult'}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /api/v1/keys/{id}:retire:
            post:
              operationId: retireKey
              summary: Retire a key; every URL it signed then fails with 401.
              parameters:
                - name: id
                  in: path
                  required: true
                  schema: {type: string}
              responses:
                '200':
                  description: The retired key.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/KeyResult'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
                '409': {$ref: '#/components/responses/Error'}
          /api/v1/plugins:
            get:
              operationId: listPlugins
              summary: List installed plugins with their state (loaded, quarantined, failed).
              responses:
                '200':
                  description: The plugins.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          plugins:
                            type: array
                            items: {$ref: '#/components/schemas/Plugin'}
                '401': {$ref: '#/components/responses/Unauthorized'}
            post:
              operationId: installPlugin
              summary: >-
                Install a plugin package (manifest.json, library, optional manifest.sig) from a
                directory on the gateway's machine. Verified before it is loaded.
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [path]
                      properties:
                        path: {type: string, description: absolute package directory}
              responses:
                '201':
                  description: The installed and loaded plugin.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          plugin: {$ref: '#/components/schemas/Plugin'}
                '400': {$ref: '#/components/responses/Error'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '422': {$ref: '#/components/responses/Error'}
          /api/v1/plugins/{id}:
            get:
              operationId: getPlugin
              summary: One installed plugin.
              parameters:
                - {name: id, in: path, required: true, schema: {type: string}}
              responses:
                '200':
                  description: The plugin.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          plugin: {$ref: '#/components/schemas/Plugin'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
            delete:
              operationId: removePlugin
              summary: Uninstall a plugin (its shutdown hook runs; its files and state are deleted).
              parameters:
                - {name: id, in: path, required: true, schema: {type: string}}
              responses:
                '204': {description: Removed.}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
          /api/v1/plugins/{id}/{path}:
            description: >-
              A plugin's own admin routes (ABI 1.3 handle_request), any method and any path below the
              plugin's id; the bundled event-hub plugin serves hubs here (GET hubs; PUT, GET, DELETE
              hubs/{hub}; GET, POST hubs/{hub}/keys; DELETE hubs/{hub}/keys/{key}; POST hubs/{hub}/tokens).
            parameters:
              - {name: id, in: path, required: true, schema: {type: string}}
              - {name: path, in: path, required: true, description: The rest of the path, slashes included., schema: {type: string}}
            get:
              operationId: pluginRouteGet
              summary: A plugin's admin route (GET).
              responses:
                default: {description: What the plugin answers.}
            put:
              operationId: pluginRoutePut
              summary: A plugin's admin route (PUT).
              responses:
                default: {description: What the plugin answers.}
            post:
              operationId: pluginRoutePost
              summary: A plugin's admin route (POST).
              responses:
                default: {description: What the plugin answers.}
            delete:
              operationId: pluginRouteDelete
              summary: A plugin's admin route (DELETE).
              responses:
                default: {description: What the plugin answers.}
          /api/v1/workflows:
            get:
              operationId: listWorkflows
              summary: List deployed workflows.
              responses:
                '200':
                  description: The workflows.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          workflows:
                            type: array
                            items: {$ref: '#/components/schemas/Workflow'}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /api/v1/workflows/{name}:
            put:
              operationId: deployWorkflow
              summary: >-
                Deploy (create or replace) a workflow from a Logic Apps definition, bare or wrapped
                in {"definition", "parameters"}. Every deployed version is kept. Validation errors
                name the JSON path of each problem.
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {type: object}
              responses:
                '200': {$ref: '#/components/responses/WorkflowResult'}
                '201': {$ref: '#/components/responses/WorkflowResult'}
                '400': {$ref: '#/components/responses/Error'}
                '401': {$ref: '#/components/responses/Unauthorized'}
            get:
              operationId: getWorkflow
              summary: One workflow with its live definition and its trigger's subscription.
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              responses:
                '200':
                  description: The workflow, its subscription (for triggers that subscribe) and its definition.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          workflow: {$ref: '#/components/schemas/Workflow'}
                          subscription:
                            type: object
                            description: Absent for a trigger that never subscribed (Request).
                            properties:
                              trigger: {type: string}
                              type: {type: string}
                              state: {type: string, enum: [subscribing, subscribed, failed, unsubscribed]}
                              version: {type: integer}
                              attempts: {type: integer, description: Failed attempts since the last success.}
                              subscribedAt: {type: string, format: date-time}
                              nextAttemptAt: {type: string, format: date-time}
                              lastError: {type: string}
                              subscription: {description: What the subscribe returned (the subscriber's statusCode, headers, body).}
                              unsubscribes:
                                type: array
                                items:
                                  type: object
                                  properties:
                                    status: {type: string, enum: [pending, succeeded, failed]}
                                    attempts: {type: integer}
                                    lastError: {type: string}
                                    queuedAt: {type: string, format: date-time}
                                    completedAt: {type: string, format: date-time}
                          definition: {type: object}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
            delete:
              operationId: deleteWorkflow
              summary: Delete a workflow (its versions are kept).
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              responses:
                '204': {description: Deleted.}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
          /api/v1/workflows/{name}:enable:
            post:
              operationId: enableWorkflow
              summary: Enable a workflow; a subscribing trigger is subscribed (a failed subscription is retried at once).
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              responses:
                '200': {$ref: '#/components/responses/WorkflowResult'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
          /api/v1/workflows/{name}:disable:
            post:
              operationId: disableWorkflow
              summary: Disable a workflow; a subscribing trigger is unsubscribed through the outbox and its URL answers 410.
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              responses:
                '200': {$ref: '#/components/responses/WorkflowResult'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
          /api/v1/workflows/{name}/triggers/{trigger}/callback-url:
            post:
              operationId: listTriggerCallbackUrl
              summary: >-
                The signed URL of a Request trigger, as Logic Apps' listCallbackUrl answers it. The
                URL stays the same across redeploys and restarts while the trigger keeps its name.
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
                - {name: trigger, in: path, required: true, schema: {type: string}}
              responses:
                '200':
                  description: The URL.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [value, method, basePath, queries]
                        properties:
                          value: {type: string}
                          method: {type: string}
                          basePath: {type: string}
                          queries: {type: object, additionalProperties: {type: string}}
                '400': {$ref: '#/components/responses/Error'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
          /api/v1/runs:
            get:
              operationId: listRuns
              summary: Runs, newest first, with filters and paging.
              parameters:
                - {name: workflow, in: query, schema: {type: string}}
                - {name: status, in: query, schema: {type: string, enum: [Running, Waiting, Succeeded, Failed, Cancelled, TimedOut]}}
                - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 50}}
                - {name: after, in: query, description: the previous page's next cursor, schema: {type: string}}
              responses:
                '200':
                  description: A page of runs.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          runs:
                            type: array
                            items: {$ref: '#/components/schemas/Run'}
                          next: {type: [string, 'null']}
                '400': {$ref: '#/components/responses/Error'}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /api/v1/runs/{id}:
            get:
              operationId: getRun
              summary: >-
                A run with every action (status, start/end, attempts, inputs and outputs with secure
                data redacted, what a waiting step waits for) and its outbox calls.
              parameters:
                - {name: id, in: path, required: true, schema: {type: string}}
              responses:
                '200':
                  description: The run.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/RunDetail'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
          /api/v1/runs/{id}:cancel:
            post:
              operationId: cancelRun
              summary: Cancel a run; its waiting steps end Cancelled and are unsubscribed through the outbox.
              parameters:
                - {name: id, in: path, required: true, schema: {type: string}}
              responses:
                '200':
                  description: The cancelled run.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          run: {$ref: '#/components/schemas/Run'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/Error'}
                '409': {$ref: '#/components/responses/Error'}
        components:
          securitySchemes:
            bearer:
              type: http
              scheme: bearer
          responses:
            WorkflowResult:
              description: The workflow.
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      workflow: {$ref: '#/components/schemas/Workflow'}
            Unauthorized:
              description: Missing or wrong bearer token.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            Error:
              description: The operation failed.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
          schemas:
            SigningKey:
              type: object
              required: [id, status, createdAt]
              properties:
                id: {type: string, examples: [k1]}
                status: {type: string, enum: [primary, active, retired]}
                createdAt: {type: string, format: date-time}
                retiredAt: {type: string, format: date-time}
            Plugin:
              type: object
              required: [id, version, abi, sha256, signed, bundled, installedAt, crashes, quarantined, state]
              properties:
                id: {type: string}
                version: {type: string}
                abi: {type: string, examples: ['1.0']}
                sha256: {type: string}
                signed: {type: boolean}
                bundled: {type: boolean, description: linked into the gateway; started at every start-up, cannot be removed}
                installedAt: {type: string, format: date-time}
                crashes: {type: integer}
                quarantined: {type: boolean}
                state: {type: string, description: 'loaded, quarantined, not loaded, or failed: <reason>'}
                buildInfo: {type: string}
                description: {type: string, description: the JSON the plugin's describe hook returned}
            Workflow:
              type: object
              required: [name, enabled, version, trigger, triggerType, actions, createdAt, updatedAt]
              properties:
                name: {type: string}
                enabled: {type: boolean}
                version: {type: integer, description: the live version; every deployed version is kept}
                trigger: {type: string}
                triggerType: {type: string}
                actions: {type: integer, description: number of top-level actions}
                createdAt: {type: string, format: date-time}
                updatedAt: {type: string, format: date-time}
            Run:
              type: object
              required: [id, workflow, version, status, trigger, startTime]
              properties:
                id: {type: string}
                workflow: {type: string}
                version: {type: integer}
                status: {type: string, enum: [Running, Waiting, Succeeded, Failed, Cancelled, TimedOut]}
                trigger: {type: string}
                startTime: {type: string, format: date-time}
                endTime: {type: string, format: date-time}
                error: {type: object}
            RunDetail:
              type: object
              properties:
                run: {$ref: '#/components/schemas/Run'}
                triggerOutputs: {}
                variables: {type: object}
                outputs: {}
                actions:
                  type: array
                  items:
                    type: object
                    required: [key, name, type, status]
                    properties:
                      key: {type: string, description: 'the name, prefixed by Foreach iterations (Loop[2]/Send)'}
                      name: {type: string}
                      type: {type: string}
                      status: {type: string, enum: [Queued, Running, Waiting, Succeeded, Failed, Skipped, TimedOut, Cancelled]}
                      startTime: {type: string, format: date-time}
                      endTime: {type: string, format: date-time}
                      attempts: {type: integer}
                      inputs: {}
                      outputs: {}
                      error: {}
                      waiting:
                        type: object
                        properties:
                          waitingFor: {type: string}
                          since: {type: string, format: date-time}
                          deadline: {type: string, format: date-time}
                          callbackId: {type: string, description: the callback URL's id (never its signature)}
                outbox:
                  type: array
                  items:
                    type: object
                    properties:
                      action: {type: string}
                      operation: {type: string}
                      status: {type: string, enum: [pending, succeeded, failed]}
                      attempts: {type: integer}
                      lastError: {type: string}
                      completedAt: {type: string, format: date-time}
            KeyResult:
              type: object
              properties:
                key: {$ref: '#/components/schemas/SigningKey'}
            Error:
              type: object
              required: [error]
              properties:
                error:
                  type: object
                  required: [code, message]
                  properties:
                    code: {type: string}
                    message: {type: string}
                    path: {type: string}
                    problems:
                      type: array
                      description: every problem, when a definition has several
                      items:
                        type: object
                        properties:
                          path: {type: string}
                          message: {type: string}
        """
}
