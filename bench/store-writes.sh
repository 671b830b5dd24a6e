#!/usr/bin/env bash
# Committed writes per second through the group-commit writer (many concurrent callers), and the
# one-transaction-per-write baseline. Builds the harness in release and runs it.
#   bench/store-writes.sh [WRITES] [CONCURRENCY]      (defaults 100000 and 64)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product callgate-bench-store
"$(swift build -c release --show-bin-path)/callgate-bench-store" "${1:-100000}" "${2:-64}"
