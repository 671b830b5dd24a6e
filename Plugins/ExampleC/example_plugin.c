/*
 * example-c: a Callgate connector plugin in plain C11, used by the ABI conformance suite and as
 * the plugin author's guide's example. It exercises every host service:
 *
 *   subscribe        logs, reads the clock, mints a callback URL, stores it in plugin state;
 *                    with "http": starts an outbound request and answers PENDING, and the
 *                    completion finishes the operation through complete_operation.
 *   handle_callback  reads the state, fires a trigger de-duplicated by the request body, and
 *                    answers "resume" with outputs and an HTTP reply.
 *   unsubscribe      deletes the state (and cancels a request given as "cancel").
 *
 * Build:  gcc -std=c11 -shared -fPIC -fvisibility=hidden -I Sources/CCallgatePlugin/include \
 *             -o libexample_c.so Plugins/ExampleC/example_plugin.c
 *
 * Test-only switches: EXAMPLE_ABI_MAJOR (answer another major), EXAMPLE_MARKER_FILE (a load-time
 * constructor writes this file: proves a refused library was never loaded), EXAMPLE_CRASH (abort
 * inside subscribe when the request says "crash", or inside describe when the environment has
 * EXAMPLE_CRASH_IN_DESCRIBE: the gateway's crash quarantine).
 */
#include "callgate_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EXAMPLE_ABI_MAJOR
#define EXAMPLE_ABI_MAJOR CALLGATE_ABI_MAJOR
#endif

#ifdef EXAMPLE_MARKER_FILE
__attribute__((constructor)) static void example_loaded(void) {
    FILE *marker = fopen(EXAMPLE_MARKER_FILE, "w");
    if (marker) {
        fputs("loaded\n", marker);
        fclose(marker);
    }
}
#endif

typedef struct example_plugin {
    const callgate_host_api *host;
} example_plugin;

typedef struct example_instance {
    example_plugin *plugin;
    int configured;
} example_instance;

/* ---- tiny helpers: the inputs are small flat JSON objects written by the host or the tests ---- */

static void put(const callgate_writer *writer, const char *text) {
    if (writer && writer->append) writer->append(writer->context, (const uint8_t *)text, strlen(text));
}

static callgate_bytes bytes_of(const char *text) {
    callgate_bytes bytes = {(const uint8_t *)text, strlen(text)};
    return bytes;
}

/* Copies the string value of "key" in a flat JSON object (no escapes) into out. */
static int json_string(callgate_bytes json, const char *key, char *out, size_t capacity) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    size_t plen = strlen(pattern);
    for (size_t i = 0; json.len >= plen && i + plen <= json.len; i++) {
        if (memcmp(json.ptr + i, pattern, plen) == 0) {
            size_t start = i + plen, end = start;
            while (end < json.len && json.ptr[end] != '"') end++;
            size_t n = end - start < capacity - 1 ? end - start : capacity - 1;
            memcpy(out, json.ptr + start, n);
            out[n] = 0;
            return 1;
        }
    }
    return 0;
}

/* Collects what a host service writes, into a fixed buffer. */
typedef struct buffer {
    char data[4096];
    size_t len;
} buffer;

static void buffer_append(void *context, const uint8_t *ptr, size_t len) {
    buffer *b = (buffer *)context;
    size_t room = sizeof b->data - 1 - b->len;
    size_t n = len < room ? len : room;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = 0;
}

static callgate_writer writer_for(buffer *b) {
    callgate_writer w = {b, buffer_append};
    return w;
}

/* ---- hooks ---- */

static int32_t example_describe(void *plugin, const callgate_writer *out) {
    (void)plugin;
#ifdef EXAMPLE_CRASH
    if (getenv("EXAMPLE_CRASH_IN_DESCRIBE")) abort();
#endif
    put(out, "{\"id\":\"example-c\",\"version\":\"1.0.0\","
             "\"triggers\":[{\"type\":\"ExampleTrigger\",\"inputs\":{\"type\":\"object\"}}],"
             "\"actions\":[{\"type\":\"ExampleAction\",\"inputs\":{\"type\":\"object\",\"properties\":{\"http\":{\"type\":\"string\"}}}}]}");
    return CALLGATE_OK;
}

static int32_t example_instance_create(void *plugin, callgate_bytes config, void **instance, const callgate_writer *error) {
    char value[64];
    if (json_string(config, "mode", value, sizeof value) && strcmp(value, "fail") == 0) {
        put(error, "configuration asked to fail");
        return CALLGATE_ERR_INVALID;
    }
    example_instance *created = calloc(1, sizeof *created);
    if (!created) return CALLGATE_ERR_INTERNAL;
    created->plugin = (example_plugin *)plugin;
    created->configured = 1;
    *instance = created;
    return CALLGATE_OK;
}

static void example_instance_free(void *plugin, void *instance) {
    (void)plugin;
    free(instance);
}

static int32_t example_subscribe(void *instance, callgate_bytes request, const callgate_writer *result, const callgate_writer *error) {
    example_instance *self = (example_instance *)instance;
    const callgate_host_api *host = self->plugin->host;
    char subscription[128], fail[32], url[512], text[1024];
    if (!json_string(request, "subscription", subscription, sizeof subscription)) {
        put(error, "request lacks \"subscription\"");
        return CALLGATE_ERR_INVALID;
    }
    if (json_string(request, "fail", fail, sizeof fail)) {
        put(error, "asked to fail");
        return strcmp(fail, "retryable") == 0 ? CALLGATE_ERR_RETRYABLE : CALLGATE_ERR_INVALID;
    }
#ifdef EXAMPLE_CRASH
    if (json_string(request, "crash", fail, sizeof fail)) abort();
#endif
    snprintf(text, sizeof text, "subscribe %s", subscription);
    host->log(host->host, CALLGATE_LOG_INFO, bytes_of(text));
    int64_t now = host->clock_now_ms(host->host);

    /* Mint the URL the outside service will call back. */
    buffer minted = {0}, failure = {0};
    callgate_writer minted_out = writer_for(&minted), failure_out = writer_for(&failure);
    snprintf(text, sizeof text, "{\"subscription\":\"%s\",\"scope\":\"resume\"}", subscription);
    int32_t status = host->mint_callback_url(host->host, bytes_of(text), &minted_out, &failure_out);
    if (status != CALLGATE_OK) {
        put(error, failure.data);
        return status;
    }
    char key[160];
    snprintf(key, sizeof key, "sub:%s", subscription);
    status = host->state_put(host->host, bytes_of(key), (callgate_bytes){(const uint8_t *)minted.data, minted.len});
    if (status != CALLGATE_OK) return status;

    if (json_string(request, "http", url, sizeof url)) {
        uint64_t request_id = 0;
        snprintf(text, sizeof text, "{\"method\":\"GET\",\"url\":\"%s\",\"timeoutMs\":%s}", url,
                 json_string(request, "timeoutMs", fail, sizeof fail) ? fail : "10000");
        status = host->http_send(host->host, bytes_of(text), bytes_of(""), &request_id, &failure_out);
        if (status != CALLGATE_PENDING) {
            put(error, failure.data);
            return status;
        }
        if (json_string(request, "cancel", fail, sizeof fail)) host->http_cancel(host->host, request_id);
        snprintf(text, sizeof text, "{\"requestId\":%llu}", (unsigned long long)request_id);
        put(result, text);
        return CALLGATE_PENDING;
    }
    put(result, "{\"callback\":");
    put(result, minted.data);
    snprintf(text, sizeof text, ",\"now\":%lld}", (long long)now);
    put(result, text);
    return CALLGATE_OK;
}

static int32_t example_unsubscribe(void *instance, callgate_bytes request, const callgate_writer *result, const callgate_writer *error) {
    example_instance *self = (example_instance *)instance;
    const callgate_host_api *host = self->plugin->host;
    char subscription[128], key[160], text[256];
    if (!json_string(request, "subscription", subscription, sizeof subscription)) {
        put(error, "request lacks \"subscription\"");
        return CALLGATE_ERR_INVALID;
    }
    snprintf(key, sizeof key, "sub:%s", subscription);
    int32_t status = host->state_delete(host->host, bytes_of(key));
    if (status != CALLGATE_OK) return status;
    snprintf(text, sizeof text, "{\"unsubscribed\":\"%s\"}", subscription);
    put(result, text);
    return CALLGATE_OK;
}

static int32_t example_handle_callback(void *instance, callgate_bytes request, callgate_bytes body, const callgate_writer *result,
                                       const callgate_writer *error) {
    example_instance *self = (example_instance *)instance;
    const callgate_host_api *host = self->plugin->host;
    char subscription[128], key[160], text[2048];
    if (!json_string(request, "subscription", subscription, sizeof subscription)) {
        put(error, "request lacks \"subscription\"");
        return CALLGATE_ERR_INVALID;
    }
    snprintf(key, sizeof key, "sub:%s", subscription);
    buffer stored = {0}, fired = {0}, failure = {0};
    callgate_writer stored_out = writer_for(&stored), fired_out = writer_for(&fired), failure_out = writer_for(&failure);
    int32_t status = host->state_get(host->host, bytes_of(key), &stored_out);
    if (status != CALLGATE_OK) {
        put(error, "unknown subscription");
        return status;
    }
    snprintf(text, sizeof text, "{\"subscription\":\"%s\",\"outputs\":{\"bodyLength\":%zu}}", subscription, body.len);
    status = host->fire_trigger(host->host, bytes_of(text), body, &fired_out, &failure_out);
    if (status != CALLGATE_OK) {
        put(error, failure.data);
        return status;
    }
    snprintf(text, sizeof text, "{\"decision\":\"resume\",\"outputs\":{\"bodyLength\":%zu,\"run\":", body.len);
    put(result, text);
    put(result, fired.data);
    put(result, "},\"reply\":{\"status\":200,\"headers\":{\"Content-Type\":\"application/json\"},\"body\":\"{\\\"ok\\\":true}\"}}");
    return CALLGATE_OK;
}

static void example_http_completed(void *plugin, uint64_t request_id, int32_t status, callgate_bytes response, callgate_bytes body) {
    example_plugin *self = (example_plugin *)plugin;
    char operation[64], outputs[4096], key[64], count[32];
    snprintf(operation, sizeof operation, "http-%llu", (unsigned long long)request_id);
    /* Count deliveries in state, so the conformance suite can prove "exactly once". */
    buffer seen = {0};
    callgate_writer seen_out = writer_for(&seen);
    snprintf(key, sizeof key, "completions:%llu", (unsigned long long)request_id);
    long previous = self->host->state_get(self->host->host, bytes_of(key), &seen_out) == CALLGATE_OK ? strtol(seen.data, NULL, 10) : 0;
    snprintf(count, sizeof count, "%ld", previous + 1);
    self->host->state_put(self->host->host, bytes_of(key), bytes_of(count));
    if (status == CALLGATE_OK) {
        snprintf(outputs, sizeof outputs, "{\"response\":%.*s,\"bodyLength\":%zu}", (int)response.len, (const char *)response.ptr, body.len);
    } else {
        snprintf(outputs, sizeof outputs, "%.*s", (int)response.len, (const char *)response.ptr);
    }
    self->host->complete_operation(self->host->host, bytes_of(operation), status, bytes_of(outputs));
}

static void example_shutdown(void *plugin) {
    free(plugin);
}

static int32_t example_init(const callgate_host_api *host, callgate_plugin_hooks *hooks, void **plugin, const callgate_writer *error) {
    if (host->struct_size < sizeof(callgate_host_api)) {
        put(error, "host table older than 1.0");
        return CALLGATE_ERR_INCOMPATIBLE;
    }
    example_plugin *self = calloc(1, sizeof *self);
    if (!self) return CALLGATE_ERR_INTERNAL;
    self->host = host;
    *plugin = self;
    hooks->describe = example_describe;
    hooks->instance_create = example_instance_create;
    hooks->instance_free = example_instance_free;
    hooks->subscribe = example_subscribe;
    hooks->unsubscribe = example_unsubscribe;
    hooks->handle_callback = example_handle_callback;
    hooks->http_completed = example_http_completed;
    hooks->shutdown = example_shutdown;
    return CALLGATE_OK;
}

CALLGATE_EXPORT int32_t callgate_plugin_negotiate(const callgate_host_offer *offer, callgate_plugin_answer *answer) {
    static const char build_info[] = "example-c 1.0.0 (C11)";
    answer->major = EXAMPLE_ABI_MAJOR;
    answer->minor = CALLGATE_ABI_MINOR;
    answer->build_info = bytes_of(build_info);
    answer->init = example_init;
    if (offer->min_major > EXAMPLE_ABI_MAJOR || offer->max_major < EXAMPLE_ABI_MAJOR) return CALLGATE_ERR_INCOMPATIBLE;
    return CALLGATE_OK;
}
