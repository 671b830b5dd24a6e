//! example-rust: the Callgate example connector in Rust, with no crates: the ABI structs are
//! mirrored by hand from `callgate_plugin.h` (ABI 1.0). It uses every host service the same way
//! as the C and Swift examples, so one conformance runner checks all three.
//!
//! Build: rustc --edition 2021 --crate-type cdylib -O -o libexample_rust.so Plugins/ExampleRust/lib.rs
#![allow(non_camel_case_types)]

use std::ffi::c_void;

const ABI_MAJOR: u16 = 1;
const ABI_MINOR: u16 = 0;
const OK: i32 = 0;
const PENDING: i32 = 1;
const ERR_INVALID: i32 = -1;
const ERR_NOT_FOUND: i32 = -2;
const ERR_INCOMPATIBLE: i32 = -4;
const ERR_RETRYABLE: i32 = -5;
const ERR_INTERNAL: i32 = -9;
const LOG_INFO: i32 = 2;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct callgate_bytes {
    ptr: *const u8,
    len: usize,
}

#[repr(C)]
pub struct callgate_writer {
    context: *mut c_void,
    append: Option<unsafe extern "C" fn(*mut c_void, *const u8, usize)>,
}

#[repr(C)]
pub struct callgate_host_api {
    struct_size: u32,
    abi_major: u16,
    abi_minor: u16,
    host: *mut c_void,
    log: Option<unsafe extern "C" fn(*mut c_void, i32, callgate_bytes)>,
    clock_now_ms: Option<unsafe extern "C" fn(*mut c_void) -> i64>,
    state_get: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, *const callgate_writer) -> i32>,
    state_put: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, callgate_bytes) -> i32>,
    state_delete: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes) -> i32>,
    mint_callback_url: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, *const callgate_writer, *const callgate_writer) -> i32>,
    http_send: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, callgate_bytes, *mut u64, *const callgate_writer) -> i32>,
    http_cancel: Option<unsafe extern "C" fn(*mut c_void, u64) -> i32>,
    fire_trigger: Option<
        unsafe extern "C" fn(*mut c_void, callgate_bytes, callgate_bytes, *const callgate_writer, *const callgate_writer) -> i32,
    >,
    complete_operation: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, i32, callgate_bytes) -> i32>,
}

#[repr(C)]
pub struct callgate_plugin_hooks {
    struct_size: u32,
    flags: u32,
    describe: Option<unsafe extern "C" fn(*mut c_void, *const callgate_writer) -> i32>,
    instance_create: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, *mut *mut c_void, *const callgate_writer) -> i32>,
    instance_free: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
    subscribe: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, *const callgate_writer, *const callgate_writer) -> i32>,
    unsubscribe: Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, *const callgate_writer, *const callgate_writer) -> i32>,
    handle_callback:
        Option<unsafe extern "C" fn(*mut c_void, callgate_bytes, callgate_bytes, *const callgate_writer, *const callgate_writer) -> i32>,
    http_completed: Option<unsafe extern "C" fn(*mut c_void, u64, i32, callgate_bytes, callgate_bytes)>,
    shutdown: Option<unsafe extern "C" fn(*mut c_void)>,
}

#[repr(C)]
pub struct callgate_host_offer {
    struct_size: u32,
    min_major: u16,
    max_major: u16,
    max_minor: u16,
    reserved0: u16,
    reserved1: u32,
}

type InitFn = unsafe extern "C" fn(*const callgate_host_api, *mut callgate_plugin_hooks, *mut *mut c_void, *const callgate_writer) -> i32;

#[repr(C)]
pub struct callgate_plugin_answer {
    struct_size: u32,
    major: u16,
    minor: u16,
    build_info: callgate_bytes,
    init: Option<InitFn>,
}

// ---- helpers ----

struct Plugin {
    host: *const callgate_host_api,
}

fn bytes(data: &[u8]) -> callgate_bytes {
    callgate_bytes { ptr: data.as_ptr(), len: data.len() }
}

unsafe fn borrowed(b: callgate_bytes) -> Vec<u8> {
    if b.ptr.is_null() || b.len == 0 {
        Vec::new()
    } else {
        std::slice::from_raw_parts(b.ptr, b.len).to_vec()
    }
}

unsafe fn put(writer: *const callgate_writer, data: &[u8]) {
    if writer.is_null() {
        return;
    }
    if let Some(append) = (*writer).append {
        append((*writer).context, data.as_ptr(), data.len());
    }
}

unsafe extern "C" fn collect(context: *mut c_void, data: *const u8, len: usize) {
    let buffer = &mut *(context as *mut Vec<u8>);
    buffer.extend_from_slice(std::slice::from_raw_parts(data, len));
}

fn writer(buffer: &mut Vec<u8>) -> callgate_writer {
    callgate_writer { context: buffer as *mut Vec<u8> as *mut c_void, append: Some(collect) }
}

/// The string value of `key` in a flat JSON object (no escapes).
fn json_string(json: &[u8], key: &str) -> Option<String> {
    let text = String::from_utf8_lossy(json);
    let pattern = format!("\"{}\":\"", key);
    let start = text.find(&pattern)? + pattern.len();
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string())
}

unsafe fn host_of(instance: *mut c_void) -> &'static callgate_host_api {
    &*(*(instance as *mut Plugin)).host
}

// ---- hooks ----

unsafe extern "C" fn describe(_plugin: *mut c_void, out: *const callgate_writer) -> i32 {
    put(
        out,
        br#"{"id":"example-rust","version":"1.0.0","triggers":[{"type":"ExampleTrigger","inputs":{"type":"object"}}],"actions":[{"type":"ExampleAction","inputs":{"type":"object"}}]}"#,
    );
    OK
}

unsafe extern "C" fn instance_create(plugin: *mut c_void, config: callgate_bytes, instance: *mut *mut c_void, error: *const callgate_writer) -> i32 {
    if json_string(&borrowed(config), "mode").as_deref() == Some("fail") {
        put(error, b"configuration asked to fail");
        return ERR_INVALID;
    }
    // Instances share the plugin's host pointer.
    let created = Box::new(Plugin { host: (*(plugin as *mut Plugin)).host });
    *instance = Box::into_raw(created) as *mut c_void;
    OK
}

unsafe extern "C" fn instance_free(_plugin: *mut c_void, instance: *mut c_void) {
    if !instance.is_null() {
        drop(Box::from_raw(instance as *mut Plugin));
    }
}

unsafe extern "C" fn subscribe(instance: *mut c_void, request: callgate_bytes, result: *const callgate_writer, error: *const callgate_writer) -> i32 {
    let host = host_of(instance);
    let request = borrowed(request);
    let Some(subscription) = json_string(&request, "subscription") else {
        put(error, b"request lacks \"subscription\"");
        return ERR_INVALID;
    };
    if let Some(fail) = json_string(&request, "fail") {
        put(error, b"asked to fail");
        return if fail == "retryable" { ERR_RETRYABLE } else { ERR_INVALID };
    }
    let message = format!("subscribe {}", subscription);
    (host.log.unwrap())(host.host, LOG_INFO, bytes(message.as_bytes()));
    let now = (host.clock_now_ms.unwrap())(host.host);

    let mut minted = Vec::new();
    let mut failure = Vec::new();
    let mint_request = format!("{{\"subscription\":\"{}\",\"scope\":\"resume\"}}", subscription);
    let (minted_out, failure_out) = (writer(&mut minted), writer(&mut failure));
    let status = (host.mint_callback_url.unwrap())(host.host, bytes(mint_request.as_bytes()), &minted_out, &failure_out);
    if status != OK {
        put(error, &failure);
        return status;
    }
    let key = format!("sub:{}", subscription);
    let status = (host.state_put.unwrap())(host.host, bytes(key.as_bytes()), bytes(&minted));
    if status != OK {
        return status;
    }
    if let Some(url) = json_string(&request, "http") {
        let timeout = json_string(&request, "timeoutMs").unwrap_or_else(|| "10000".to_string());
        let http = format!("{{\"method\":\"GET\",\"url\":\"{}\",\"timeoutMs\":{}}}", url, timeout);
        let mut request_id: u64 = 0;
        let mut failure = Vec::new();
        let failure_out = writer(&mut failure);
        let status = (host.http_send.unwrap())(host.host, bytes(http.as_bytes()), bytes(b""), &mut request_id, &failure_out);
        if status != PENDING {
            put(error, &failure);
            return status;
        }
        if json_string(&request, "cancel").is_some() {
            (host.http_cancel.unwrap())(host.host, request_id);
        }
        put(result, format!("{{\"requestId\":{}}}", request_id).as_bytes());
        return PENDING;
    }
    put(result, b"{\"callback\":");
    put(result, &minted);
    put(result, format!(",\"now\":{}}}", now).as_bytes());
    OK
}

unsafe extern "C" fn unsubscribe(instance: *mut c_void, request: callgate_bytes, result: *const callgate_writer, error: *const callgate_writer) -> i32 {
    let host = host_of(instance);
    let Some(subscription) = json_string(&borrowed(request), "subscription") else {
        put(error, b"request lacks \"subscription\"");
        return ERR_INVALID;
    };
    let key = format!("sub:{}", subscription);
    let status = (host.state_delete.unwrap())(host.host, bytes(key.as_bytes()));
    if status != OK {
        return status;
    }
    put(result, format!("{{\"unsubscribed\":\"{}\"}}", subscription).as_bytes());
    OK
}

unsafe extern "C" fn handle_callback(
    instance: *mut c_void,
    request: callgate_bytes,
    body: callgate_bytes,
    result: *const callgate_writer,
    error: *const callgate_writer,
) -> i32 {
    let host = host_of(instance);
    let Some(subscription) = json_string(&borrowed(request), "subscription") else {
        put(error, b"request lacks \"subscription\"");
        return ERR_INVALID;
    };
    let key = format!("sub:{}", subscription);
    let mut stored = Vec::new();
    let stored_out = writer(&mut stored);
    let status = (host.state_get.unwrap())(host.host, bytes(key.as_bytes()), &stored_out);
    if status != OK {
        put(error, b"unknown subscription");
        return if status == ERR_NOT_FOUND { ERR_NOT_FOUND } else { status };
    }
    let body = borrowed(body);
    let fire = format!("{{\"subscription\":\"{}\",\"outputs\":{{\"bodyLength\":{}}}}}", subscription, body.len());
    let mut fired = Vec::new();
    let mut failure = Vec::new();
    let (fired_out, failure_out) = (writer(&mut fired), writer(&mut failure));
    let status = (host.fire_trigger.unwrap())(host.host, bytes(fire.as_bytes()), bytes(&body), &fired_out, &failure_out);
    if status != OK {
        put(error, &failure);
        return status;
    }
    put(result, format!("{{\"decision\":\"resume\",\"outputs\":{{\"bodyLength\":{},\"run\":", body.len()).as_bytes());
    put(result, &fired);
    put(result, br#"},"reply":{"status":200,"headers":{"Content-Type":"application/json"},"body":"{\"ok\":true}"}}"#);
    OK
}

unsafe extern "C" fn http_completed(plugin: *mut c_void, request_id: u64, status: i32, response: callgate_bytes, body: callgate_bytes) {
    let host = host_of(plugin);
    // Count deliveries in state, so the conformance suite can prove "exactly once".
    let key = format!("completions:{}", request_id);
    let mut seen = Vec::new();
    let seen_out = writer(&mut seen);
    let previous: u64 = if (host.state_get.unwrap())(host.host, bytes(key.as_bytes()), &seen_out) == OK {
        String::from_utf8_lossy(&seen).parse().unwrap_or(0)
    } else {
        0
    };
    let count = (previous + 1).to_string();
    (host.state_put.unwrap())(host.host, bytes(key.as_bytes()), bytes(count.as_bytes()));
    let operation = format!("http-{}", request_id);
    let response = borrowed(response);
    let outputs = if status == OK {
        format!("{{\"response\":{},\"bodyLength\":{}}}", String::from_utf8_lossy(&response), body.len)
    } else {
        String::from_utf8_lossy(&response).to_string()
    };
    (host.complete_operation.unwrap())(host.host, bytes(operation.as_bytes()), status, bytes(outputs.as_bytes()));
}

unsafe extern "C" fn shutdown(plugin: *mut c_void) {
    if !plugin.is_null() {
        drop(Box::from_raw(plugin as *mut Plugin));
    }
}

unsafe extern "C" fn init(
    host: *const callgate_host_api,
    hooks: *mut callgate_plugin_hooks,
    plugin: *mut *mut c_void,
    error: *const callgate_writer,
) -> i32 {
    if host.is_null() || hooks.is_null() || plugin.is_null() {
        return ERR_INTERNAL;
    }
    if ((*host).struct_size as usize) < std::mem::size_of::<callgate_host_api>() {
        put(error, b"host table older than 1.0");
        return ERR_INCOMPATIBLE;
    }
    *plugin = Box::into_raw(Box::new(Plugin { host })) as *mut c_void;
    let hooks = &mut *hooks;
    hooks.describe = Some(describe);
    hooks.instance_create = Some(instance_create);
    hooks.instance_free = Some(instance_free);
    hooks.subscribe = Some(subscribe);
    hooks.unsubscribe = Some(unsubscribe);
    hooks.handle_callback = Some(handle_callback);
    hooks.http_completed = Some(http_completed);
    hooks.shutdown = Some(shutdown);
    OK
}

static BUILD_INFO: &[u8] = b"example-rust 1.0.0 (rustc)";

/// The one exported symbol.
#[no_mangle]
pub unsafe extern "C" fn callgate_plugin_negotiate(offer: *const callgate_host_offer, answer: *mut callgate_plugin_answer) -> i32 {
    if offer.is_null() || answer.is_null() || ((*answer).struct_size as usize) < std::mem::size_of::<callgate_plugin_answer>() {
        return ERR_INVALID;
    }
    (*answer).major = ABI_MAJOR;
    (*answer).minor = ABI_MINOR;
    (*answer).build_info = bytes(BUILD_INFO);
    (*answer).init = Some(init);
    if (*offer).min_major > ABI_MAJOR || (*offer).max_major < ABI_MAJOR {
        return ERR_INCOMPATIBLE;
    }
    OK
}
