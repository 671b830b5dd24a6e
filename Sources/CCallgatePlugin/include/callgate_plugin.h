/*
 * callgate_plugin.h: the Callgate connector plugin ABI.
 *
 * A plugin is a shared library that exports exactly one symbol, callgate_plugin_negotiate, whose
 * signature never changes. Everything else crosses through two size-prefixed, append-only tables
 * of function pointers: the host's services (callgate_host_api, given to the plugin) and the
 * plugin's hooks (callgate_plugin_hooks, filled in by the plugin).
 *
 * Versioning. ABI_MAJOR changes only when a layout or a meaning changes (never planned). ABI_MINOR
 * grows when a slot is appended to a table or a status or flag value is added. A plugin built
 * against 1.0 loads in every 1.x host; a slot is used only when it lies inside the struct_size the
 * other side declared and is not NULL, so every slot added after 1.0 is optional for both sides.
 * A request field added in a minor is ignored by older hosts: check callgate_host_api.abi_minor
 * before relying on it.
 *
 * History. 1.0: the first ABI. 1.1: http_send's request may carry "authentication".
 * 1.2: links a plugin mints for a waiting step reach handle_callback with "kind": "link" and a
 * snapshot of the step; its result may decide the step ("wait" keeps state between calls).
 * 1.3: fire_trigger starts runs (it recorded them before); set_gauge (metrics) and the
 * handle_request hook (the plugin's own HTTP routes) are appended; an action may complete
 * without waiting ("completed": true in its subscribe result).
 *
 * Types. Only fixed-width integers, size_t, pointers and function pointers; no enum, no bool.
 * Data is UTF-8 JSON in {ptr, len} buffers (never NUL-terminated); readers ignore unknown fields.
 *
 * Memory. Every callgate_bytes argument is borrowed: valid for the duration of the call only;
 * copy what you keep. Results go back through a callgate_writer that the caller provides and that
 * copies the bytes at once, so neither side ever frees memory the other allocated.
 *
 * Threads. callgate_plugin_negotiate and init are called once, first, on one thread. The host
 * calls a plugin's hooks on threads of its own (never on Swift's cooperative pool or NIO's event
 * loops) and, unless the plugin sets CALLGATE_PLUGIN_FLAG_CONCURRENT, one hook at a time.
 * Host services are thread-safe and may be called from inside any hook (re-entrancy is allowed);
 * the host holds no lock or transaction across a hook. A hook must not block waiting for a
 * host completion (http_completed): answer CALLGATE_PENDING and finish in the completion.
 * Asynchronous completions fire exactly once and never inline inside the call that started them.
 *
 * Lifetime. Plugins are never unloaded (no dlclose): shutdown is the last hook called.
 */
#ifndef CALLGATE_PLUGIN_H
#define CALLGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define CALLGATE_ABI_MAJOR 1
#define CALLGATE_ABI_MINOR 3

/* Marks the one symbol a plugin exports, also under -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define CALLGATE_EXPORT __attribute__((visibility("default")))
#else
#define CALLGATE_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status codes: int32_t. 0 ok, 1 pending, negative errors. Unknown values mean INTERNAL. ---- */
#define CALLGATE_OK 0
#define CALLGATE_PENDING 1               /* accepted; the result arrives later through a completion */
#define CALLGATE_ERR_INVALID (-1)        /* the input is wrong; retrying the same input fails again */
#define CALLGATE_ERR_NOT_FOUND (-2)      /* the key, instance, operation or type does not exist */
#define CALLGATE_ERR_UNSUPPORTED (-3)    /* the hook or option is not implemented */
#define CALLGATE_ERR_INCOMPATIBLE (-4)   /* ABI versions do not overlap */
#define CALLGATE_ERR_RETRYABLE (-5)      /* a passing failure; the same call may succeed later */
#define CALLGATE_ERR_DENIED (-6)         /* refused by policy (egress, permissions) */
#define CALLGATE_ERR_CANCELLED (-7)      /* cancelled before it completed */
#define CALLGATE_ERR_TIMEOUT (-8)        /* its deadline passed */
#define CALLGATE_ERR_INTERNAL (-9)       /* a bug or an unexpected failure */

/* ---- Log levels for callgate_host_api.log. ---- */
#define CALLGATE_LOG_TRACE 0
#define CALLGATE_LOG_DEBUG 1
#define CALLGATE_LOG_INFO 2
#define CALLGATE_LOG_WARNING 3
#define CALLGATE_LOG_ERROR 4

/* ---- callgate_plugin_hooks.flags ---- */
#define CALLGATE_PLUGIN_FLAG_CONCURRENT 0x1u /* hooks may be called on several threads at once */

/* Borrowed bytes: valid for the duration of the call that passes them. ptr may be NULL if len is 0. */
typedef struct callgate_bytes {
    const uint8_t *ptr;
    size_t len;
} callgate_bytes;

/* Where a callee puts a result: append copies the bytes at once and may be called several times
 * (the pieces are concatenated). The writer itself is borrowed for the duration of the call. */
typedef struct callgate_writer {
    void *context;
    void (*append)(void *context, const uint8_t *ptr, size_t len);
} callgate_writer;

/* ---- Host services, given to the plugin by init. Owned by the host, valid until shutdown returns.
 * Every service takes the host pointer first. Every service is thread-safe and may be called from
 * inside hooks. ---- */
typedef struct callgate_host_api {
    uint32_t struct_size;   /* sizeof the host's table: slots past it do not exist */
    uint16_t abi_major;
    uint16_t abi_minor;
    void *host;             /* opaque; pass it back to every service */

    /* Writes one log line at a CALLGATE_LOG_* level, attributed to the plugin. */
    void (*log)(void *host, int32_t level, callgate_bytes message);

    /* Unix time in milliseconds, from the host's clock (tests may run it fast or slow). */
    int64_t (*clock_now_ms)(void *host);

    /* Per-plugin key-value state, stored in the gateway's SQLite database.
     * state_get: OK and the value written to value_out, or CALLGATE_ERR_NOT_FOUND. */
    int32_t (*state_get)(void *host, callgate_bytes key, const callgate_writer *value_out);
    int32_t (*state_put)(void *host, callgate_bytes key, callgate_bytes value);
    int32_t (*state_delete)(void *host, callgate_bytes key); /* OK also when the key did not exist */

    /* Mints a signed callback URL bound to a subscription.
     * request_json: {"subscription": "...", "scope": "...", "expiresInSeconds": 3600?}
     * result_json:  {"id": "...", "url": "https://..."}
     * Since 1.2, when "subscription" is a waiting step's subscription id (the "subscription" of
     * its subscribe request), calls to the URL reach handle_callback with "kind": "link". */
    int32_t (*mint_callback_url)(void *host, callgate_bytes request_json, const callgate_writer *result_json,
                                 const callgate_writer *error);

    /* Starts an outbound HTTP request through the gateway's client and egress policy.
     * request_json: {"method": "POST", "url": "https://...", "headers": {"k": "v"}, "timeoutMs": 30000,
     *                "authentication": {"type": "Basic", ...}}
     * authentication (since 1.1, optional): a Logic Apps authentication object of string fields that
     * the host applies: Basic, Raw, ClientCertificate (pfx + password, or PEM certificate +
     * privateKey), ActiveDirectoryOAuth (client credentials; the host fetches and caches the token).
     * Returns CALLGATE_PENDING and *request_id; the plugin's http_completed hook then fires exactly
     * once (never inside this call) with OK, ERR_TIMEOUT, ERR_CANCELLED, ERR_DENIED or another error.
     * Returns a negative status (and no completion) when the request is refused at once. */
    int32_t (*http_send)(void *host, callgate_bytes request_json, callgate_bytes body, uint64_t *request_id,
                         const callgate_writer *error);

    /* Cancels a request started by http_send; its completion then reports CALLGATE_ERR_CANCELLED
     * unless it had already completed. OK, or CALLGATE_ERR_NOT_FOUND for an unknown or finished id. */
    int32_t (*http_cancel)(void *host, uint64_t request_id);

    /* Starts a run of the trigger named in request_json ({"subscription": "...", "outputs": {...}}):
     * subscription is the "subscription" of the trigger's subscribe request; outputs are the
     * trigger's outputs (the trigger's splitOn and conditions apply, so one call may start
     * several runs or none). The run is committed when the call returns. A dedupe_key already
     * seen for the trigger's workflow starts nothing and returns the first runs.
     * result_json: {"runId": "...", "runIds": [...], "duplicate": false}
     * CALLGATE_ERR_NOT_FOUND: the subscription ended (stop delivering for it);
     * CALLGATE_ERR_RETRYABLE: the gateway is busy or the workflow's runs are not keeping up. */
    int32_t (*fire_trigger)(void *host, callgate_bytes request_json, callgate_bytes dedupe_key,
                            const callgate_writer *result_json, const callgate_writer *error);

    /* Completes an operation the plugin answered CALLGATE_PENDING for (a subscribe or a waiting
     * action): status OK with outputs_json, or a negative status with outputs_json as the error. */
    int32_t (*complete_operation)(void *host, callgate_bytes operation_id, int32_t status, callgate_bytes outputs_json);

    /* Since 1.3. Sets a gauge in the gateway's /metrics, prefixed with callgate_plugin_: name is
     * letters, digits and '_'; labels_json is {"label": "value"} (may be empty). */
    int32_t (*set_gauge)(void *host, callgate_bytes name, callgate_bytes labels_json, int64_t value);
} callgate_host_api;

/* ---- Plugin hooks, filled in by init. The host zero-fills the table and sets struct_size to its
 * own sizeof; the plugin fills the slots it implements that lie inside that size and leaves
 * struct_size as it found it or lowers it to its own sizeof. Every slot may be NULL. ---- */
typedef struct callgate_plugin_hooks {
    uint32_t struct_size;
    uint32_t flags; /* CALLGATE_PLUGIN_FLAG_* */

    /* Writes the plugin's description:
     * {"id": "...", "version": "...", "triggers": [{"type": "...", "inputs": {JSON Schema}}],
     *  "actions": [{"type": "...", "inputs": {JSON Schema}}]} */
    int32_t (*describe)(void *plugin, const callgate_writer *out);

    /* Creates an instance from its configuration (JSON object); *instance is passed to the
     * instance hooks and to instance_free. */
    int32_t (*instance_create)(void *plugin, callgate_bytes config_json, void **instance, const callgate_writer *error);
    void (*instance_free)(void *plugin, void *instance);

    /* request_json: {"operation": "...", "type": "...", "subscription": "...", "inputs": {...},
     * "callbackUrl": "..."}. result_json: whatever the step records (for example the subscribe
     * response). May answer CALLGATE_PENDING and finish through complete_operation. */
    int32_t (*subscribe)(void *instance, callgate_bytes request_json, const callgate_writer *result_json,
                         const callgate_writer *error);
    int32_t (*unsubscribe)(void *instance, callgate_bytes request_json, const callgate_writer *result_json,
                           const callgate_writer *error);

    /* A verified callback for one of the instance's subscriptions.
     * request_json: {"subscription": "...", "method": "POST", "query": "...", "headers": {...}}
     * body: the raw request body.
     * result_json: {"decision": "resume"|"fail"|"ignore", "outputs": {...},
     *               "reply": {"status": 200, "headers": {...}, "body": "..."}}
     * Since 1.2, a call to a URL minted for a waiting step adds "kind": "link", "type",
     * "callbackId", "scope" and "step": {"workflow", "runId", "action", "status" (Running while
     * subscribing, Waiting, or how it ended), "subscribeResponse", "state", "outputs", "error"}.
     * The answer may also be "decision": "wait" with "state" (kept for later calls, the step keeps
     * waiting), "resume" may carry "state", and "fail" carries "error". The host commits the
     * decision only if the step is unchanged since the snapshot, else calls again with a new one:
     * answer from the snapshot alone and two concurrent calls never both decide. */
    int32_t (*handle_callback)(void *instance, callgate_bytes request_json, callgate_bytes body,
                               const callgate_writer *result_json, const callgate_writer *error);

    /* Completion of http_send: fires exactly once per request id.
     * response_json: {"status": 200, "headers": {...}} when status is CALLGATE_OK; else an error text. */
    void (*http_completed)(void *plugin, uint64_t request_id, int32_t status, callgate_bytes response_json,
                           callgate_bytes body);

    /* The last hook: release everything. The library itself stays loaded. */
    void (*shutdown)(void *plugin);

    /* Since 1.3. An HTTP request to the plugin's own routes, made on the gateway's listener:
     * /api/v1/plugins/{id}/... ("access": "admin": the gateway checked the operator's token) or
     * /plugins/{id}/... ("access": "public": the plugin authenticates the caller itself).
     * request_json: {"access", "method", "path" (after the prefix, starting with /), "query",
     *                "headers": {...}}; body: the raw request body.
     * result_json:  {"status": 200, "headers": {...}, "body": "..."} (body as text or JSON). */
    int32_t (*handle_request)(void *instance, callgate_bytes request_json, callgate_bytes body,
                              const callgate_writer *result_json, const callgate_writer *error);
} callgate_plugin_hooks;

/* Called once after negotiation: keep host (valid until shutdown returns), fill hooks, set
 * *plugin to the plugin's own context (passed to plugin-level hooks). */
typedef int32_t (*callgate_plugin_init_fn)(const callgate_host_api *host, callgate_plugin_hooks *hooks, void **plugin,
                                           const callgate_writer *error);

/* ---- Negotiation: the one exported symbol. ---- */

/* What the host supports: every major in [min_major, max_major], and for max_major every minor
 * up to max_minor. */
typedef struct callgate_host_offer {
    uint32_t struct_size;
    uint16_t min_major;
    uint16_t max_major;
    uint16_t max_minor;
    uint16_t reserved0;
    uint32_t reserved1;
} callgate_host_offer;

/* What the plugin answers. The host sets struct_size to its sizeof before the call; the plugin
 * writes only fields that lie inside it. */
typedef struct callgate_plugin_answer {
    uint32_t struct_size;
    uint16_t major;             /* the ABI major the plugin speaks */
    uint16_t minor;             /* the ABI minor it was built against */
    callgate_bytes build_info;  /* static storage: compiler, toolchain, build id (UTF-8) */
    callgate_plugin_init_fn init;
} callgate_plugin_answer;

/* The exported entry point; its signature is frozen forever. Returns CALLGATE_OK with the answer
 * filled in, or CALLGATE_ERR_INCOMPATIBLE when no major in the offer is one the plugin speaks
 * (it should still fill major/minor so the host can say what it needed). */
#define CALLGATE_PLUGIN_NEGOTIATE_SYMBOL "callgate_plugin_negotiate"
typedef int32_t (*callgate_plugin_negotiate_fn)(const callgate_host_offer *offer, callgate_plugin_answer *answer);
CALLGATE_EXPORT int32_t callgate_plugin_negotiate(const callgate_host_offer *offer, callgate_plugin_answer *answer);

/* ---- Layout checks: these sizes and offsets are frozen for ABI 1 (x86_64 and aarch64 LP64). ---- */
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define CALLGATE_STATIC_ASSERT _Static_assert
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define CALLGATE_STATIC_ASSERT static_assert
#endif
#if defined(CALLGATE_STATIC_ASSERT) && defined(__LP64__)
CALLGATE_STATIC_ASSERT(sizeof(callgate_bytes) == 16, "callgate_bytes layout");
CALLGATE_STATIC_ASSERT(sizeof(callgate_writer) == 16, "callgate_writer layout");
CALLGATE_STATIC_ASSERT(offsetof(callgate_host_api, host) == 8, "callgate_host_api.host");
CALLGATE_STATIC_ASSERT(offsetof(callgate_host_api, log) == 16, "callgate_host_api.log");
CALLGATE_STATIC_ASSERT(offsetof(callgate_host_api, complete_operation) == 88, "callgate_host_api.complete_operation");
CALLGATE_STATIC_ASSERT(offsetof(callgate_host_api, set_gauge) == 96, "callgate_host_api.set_gauge");
CALLGATE_STATIC_ASSERT(sizeof(callgate_host_api) == 104, "callgate_host_api 1.3 size");
CALLGATE_STATIC_ASSERT(offsetof(callgate_plugin_hooks, describe) == 8, "callgate_plugin_hooks.describe");
CALLGATE_STATIC_ASSERT(offsetof(callgate_plugin_hooks, shutdown) == 64, "callgate_plugin_hooks.shutdown");
CALLGATE_STATIC_ASSERT(offsetof(callgate_plugin_hooks, handle_request) == 72, "callgate_plugin_hooks.handle_request");
CALLGATE_STATIC_ASSERT(sizeof(callgate_plugin_hooks) == 80, "callgate_plugin_hooks 1.3 size");
CALLGATE_STATIC_ASSERT(sizeof(callgate_host_offer) == 16, "callgate_host_offer layout");
CALLGATE_STATIC_ASSERT(offsetof(callgate_plugin_answer, build_info) == 8, "callgate_plugin_answer.build_info");
CALLGATE_STATIC_ASSERT(offsetof(callgate_plugin_answer, init) == 24, "callgate_plugin_answer.init");
CALLGATE_STATIC_ASSERT(sizeof(callgate_plugin_answer) == 32, "callgate_plugin_answer 1.0 size");
#endif

#ifdef __cplusplus
}
#endif

#endif /* CALLGATE_PLUGIN_H */
