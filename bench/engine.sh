#!/usr/bin/env bash
# Workflow engine benchmark (issue 4):
#   1. start RUNS runs that each wait for a callback (a TestWebhook step with a 1-day timeout,
#      subscribing to a local service), then measure the gateway's resident memory;
#   2. restart the gateway on that database and measure the time from start to ready, and the
#      resident memory of the restarted, idle gateway;
#   3. resume every run through its signed callback URL over HTTPS with keep-alive, CONNECTIONS
#      concurrent connections (wrk), each resume committed before its 200; report resumes per
#      second and p50/p99 latency.
#   bench/engine.sh [RUNS] [CONNECTIONS]          (defaults 100000 and 32)
# Needs wrk and python3 (apt-get install wrk python3).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-100000}
CONNECTIONS=${2:-32}
THREADS=2
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

swift build -c release --product callgate-test-gateway
GATEWAY="$(swift build -c release --show-bin-path)/callgate-test-gateway"
source bench/lib.sh
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start_gateway() {
  local started=$(date +%s.%N)
  (cd "$WORK" && exec "$GATEWAY" --listen "127.0.0.1:$PORT" --public-url "$BASE" --log-level error > "$WORK/gateway.log" 2>&1) &
  GATEWAY_PID=$!
  until curl -sfk "$BASE/readyz" >/dev/null 2>&1; do sleep 0.05; done
  READY_SECONDS=$(echo "$(date +%s.%N) - $started" | bc)
}

python3 bench/engine/subscriber.py "$SUBSCRIBER_PORT" "$WORK/urls.txt" &
start_gateway
echo "gateway ready in ${READY_SECONDS}s (empty database)"

cat > "$WORK/workflow.json" <<JSON
{"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
 "actions": {
   "Approval": {"type": "TestWebhook", "inputs": {"subscribe": {"uri": "http://127.0.0.1:$SUBSCRIBER_PORT/subscribe"}},
                "limit": {"timeout": "P1D"}},
   "Done": {"type": "Compose", "inputs": "@body('Approval')", "runAfter": {"Approval": ["Succeeded"]}}
 }}}
JSON
curl -sfk -X PUT -H "Authorization: Bearer bench" --data-binary @"$WORK/workflow.json" "$BASE/api/v1/workflows/bench" >/dev/null
TRIGGER=$(curl -sfk -X POST -H "Authorization: Bearer bench" "$BASE/api/v1/workflows/bench/triggers/manual/callback-url" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')

echo "starting $RUNS runs..."
seed_started=$(date +%s.%N)
# Each wrk thread stops after its share; wrk itself is stopped once every run has subscribed.
PER_THREAD=$(( RUNS / THREADS )) wrk -t"$THREADS" -c16 -d3600s -s bench/engine/trigger.lua "$TRIGGER" > "$WORK/trigger.txt" &
TRIGGER_PID=$!
until [ "$(wc -l < "$WORK/urls.txt")" -ge "$RUNS" ]; do sleep 0.5; done
kill "$TRIGGER_PID" 2>/dev/null || true
# Requests in flight when wrk stopped start a few more runs: wait until the last has subscribed.
while :; do before=$(wc -l < "$WORK/urls.txt"); sleep 2; [ "$(wc -l < "$WORK/urls.txt")" = "$before" ] && break; done
RUNS=$(wc -l < "$WORK/urls.txt")
seed_seconds=$(echo "$(date +%s.%N) - $seed_started" | bc)
sleep 2
echo "$RUNS runs waiting after ${seed_seconds}s ($(echo "$RUNS / $seed_seconds" | bc) runs/s started and subscribed)"
echo "resident memory with $RUNS runs waiting: $(( $(rss_kib $GATEWAY_PID) / 1024 )) MiB"

kill -TERM "$GATEWAY_PID"; wait "$GATEWAY_PID" || true
start_gateway
sleep 3
echo "restart with $RUNS runs waiting: ready in ${READY_SECONDS}s, resident memory $(( $(rss_kib $GATEWAY_PID) / 1024 )) MiB"
du -h "$WORK/data/callgate.sqlite" | awk '{print "database: " $1}'

# Counted in the database itself (read-only, beside the gateway: WAL readers do not block it).
waiting_runs() {
  python3 -c 'import sqlite3, sys; db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True); print(db.execute("SELECT COUNT(*) FROM run WHERE status = '"'"'Waiting'"'"'").fetchone()[0])' "$WORK/data/callgate.sqlite"
}
echo "resuming $RUNS runs over $CONNECTIONS keep-alive connections..."
resume_started=$(date +%s.%N)
URL_FILE="$WORK/urls.txt" THREADS=$THREADS wrk -t"$THREADS" -c"$CONNECTIONS" -d3600s --timeout 30s --latency -s bench/engine/resume.lua "$BASE" > "$WORK/resume.txt" &
RESUME_PID=$!
# Until no run waits (or nothing moved for 10 s: a request wrk dropped, reported below).
last=-1; still=0; last_change=$(date +%s.%N)
while :; do
  now_waiting=$(waiting_runs)
  [ "$now_waiting" = 0 ] && { last_change=$(date +%s.%N); break; }
  if [ "$now_waiting" = "$last" ]; then still=$((still + 1)); [ "$still" -ge 50 ] && break; else still=0; last=$now_waiting; last_change=$(date +%s.%N); fi
  sleep 0.2
done
[ "$now_waiting" = 0 ] || echo "note: $now_waiting runs were not resumed (wrk dropped their requests)"
RUNS=$((RUNS - now_waiting))
resume_seconds=$(echo "$last_change - $resume_started" | bc)
# wrk prints its latency distribution when interrupted; its last requests repeat a resumed URL.
kill -INT "$RESUME_PID"; wait "$RESUME_PID" || true
grep -E 'Latency|50%|75%|90%|99%|resumed|Requests/sec' "$WORK/resume.txt"
echo "$RUNS runs resumed in ${resume_seconds}s: $(echo "$RUNS / $resume_seconds" | bc) resumes/s (each committed before its 200)"
echo "resident memory after resuming every run: $(( $(rss_kib $GATEWAY_PID) / 1024 )) MiB"
