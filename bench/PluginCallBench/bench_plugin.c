/* A plugin for measuring the ABI itself: subscribe does nothing, handle_callback copies its
 * request into its result (the 1 KiB-each-way case). */
#include "callgate_plugin.h"

static int32_t noop_subscribe(void *instance, callgate_bytes request, const callgate_writer *result, const callgate_writer *error) {
    (void)instance; (void)request; (void)result; (void)error;
    return CALLGATE_OK;
}

static int32_t echo_callback(void *instance, callgate_bytes request, callgate_bytes body, const callgate_writer *result,
                             const callgate_writer *error) {
    (void)instance; (void)body; (void)error;
    result->append(result->context, request.ptr, request.len);
    return CALLGATE_OK;
}

static int32_t bench_describe(void *plugin, const callgate_writer *out) {
    static const char text[] = "{\"id\":\"bench\",\"version\":\"1.0.0\",\"triggers\":[],\"actions\":[]}";
    (void)plugin;
    out->append(out->context, (const uint8_t *)text, sizeof text - 1);
    return CALLGATE_OK;
}

static int32_t bench_create(void *plugin, callgate_bytes config, void **instance, const callgate_writer *error) {
    (void)config; (void)error;
    *instance = plugin;
    return CALLGATE_OK;
}

static int32_t bench_init(const callgate_host_api *host, callgate_plugin_hooks *hooks, void **plugin, const callgate_writer *error) {
    (void)error;
    *plugin = (void *)host;
    hooks->describe = bench_describe;
    hooks->instance_create = bench_create;
    hooks->subscribe = noop_subscribe;
    hooks->handle_callback = echo_callback;
    return CALLGATE_OK;
}

CALLGATE_EXPORT int32_t callgate_plugin_negotiate(const callgate_host_offer *offer, callgate_plugin_answer *answer) {
    static const char info[] = "bench";
    (void)offer;
    answer->major = CALLGATE_ABI_MAJOR;
    answer->minor = CALLGATE_ABI_MINOR;
    answer->build_info.ptr = (const uint8_t *)info;
    answer->build_info.len = sizeof info - 1;
    answer->init = bench_init;
    return CALLGATE_OK;
}
