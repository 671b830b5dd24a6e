#!/usr/bin/env bash
# Cost of one plugin hook call through the ABI, in nanoseconds: a no-op hook, and a hook carrying
# a 1 KiB payload each way. Builds the bench plugin (gcc -O2) and the harness (release), runs it.
#   bench/plugin-call.sh [ITERATIONS]      (default 2,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -std=c11 -O2 -shared -fPIC -fvisibility=hidden -I Sources/CCallgatePlugin/include \
    -o "$work/libbench.so" bench/PluginCallBench/bench_plugin.c
sha=$(sha256sum "$work/libbench.so" | cut -d' ' -f1)
cat > "$work/manifest.json" <<JSON
{"id": "bench", "version": "1.0.0", "abi": {"major": 1, "minor": 0}, "library": "libbench.so",
 "sha256": "$sha", "operations": []}
JSON
swift build -c release --product callgate-bench-plugin-call
"$(swift build -c release --show-bin-path)/callgate-bench-plugin-call" "$work" "${1:-2000000}"
