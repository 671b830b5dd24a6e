#!/usr/bin/env bash
# HttpWebhook benchmark (issue 5), through the bundled http-webhook plugin (its hooks called over
# the C ABI, its subscribes sent with the host's http_send) and the real `callgate` binary:
#   1. subscribe throughput: RUNS runs reach an HttpWebhook action, each doing a real subscribe
#      HTTP call to a local subscriber, which holds them (runs/s until every subscribe arrived);
#   2. cycle time at a steady RATE: runs start → subscribe → the subscriber calls back over HTTPS
#      → the run resumes and ends; p50/p99 from the gateway's own run records;
#   3. the same with runs started as fast as wrk can (saturated).
#   bench/webhook.sh [RUNS] [RATE] [CYCLES]        (defaults 5000, 100 runs/s and 3000)
# Needs wrk and python3 (apt-get install wrk python3).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5000}
RATE=${2:-100}
CYCLES=${3:-3000}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

source bench/lib.sh
start_callgate
python3 bench/webhook/subscriber.py "$SUBSCRIBER_PORT" "$WORK/held.txt" "$WORK/certs/ca.pem" &
sleep 0.5

deploy() { # NAME SUBSCRIBE_PATH → prints the trigger URL
  cat > "$WORK/$1.json" <<JSON
{"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
 "actions": {
   "Wait_for_service": {"type": "HttpWebhook",
     "inputs": {"subscribe": {"method": "POST", "uri": "http://127.0.0.1:$SUBSCRIBER_PORT$2", "body": {"callbackUrl": "@{listCallbackUrl()}"}},
                "unsubscribe": {"method": "POST", "uri": "http://127.0.0.1:$SUBSCRIBER_PORT/unsubscribe", "body": {"id": "@{subscribeResponse()?['body']?['id']}"}}},
     "limit": {"timeout": "P1D"}},
   "Done": {"type": "Compose", "inputs": "@body('Wait_for_service')", "runAfter": {"Wait_for_service": ["Succeeded"]}}
 }}}
JSON
  curl -sfk -X PUT -H "Authorization: Bearer bench" --data-binary @"$WORK/$1.json" "$BASE/api/v1/workflows/$1" >/dev/null
  curl -sfk -X POST -H "Authorization: Bearer bench" "$BASE/api/v1/workflows/$1/triggers/manual/callback-url" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])'
}

echo "1. subscribe throughput: $RUNS runs, each subscribing over HTTP through the plugin..."
HOLD=$(deploy hold /hold)
touch "$WORK/held.txt"
started=$(date +%s.%N)
PER_THREAD=$(( RUNS / 2 )) wrk -t2 -c16 -d3600s -s bench/engine/trigger.lua "$HOLD" > /dev/null &
WRK_PID=$!
until [ "$(wc -l < "$WORK/held.txt")" -ge "$RUNS" ]; do sleep 0.2; done
seconds=$(echo "$(date +%s.%N) - $started" | bc)
kill "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true
echo "   $RUNS subscribes in ${seconds}s: $(echo "$RUNS / $seconds" | bc) runs/s reached the HttpWebhook action and subscribed"
sleep 2

echo "2. cycle time at $RATE runs/s, $CYCLES runs (start → subscribe → callback over HTTPS → run end)..."
STEADY=$(deploy steady /callback)
python3 bench/webhook/pace.py "$STEADY" "$WORK/certs/ca.pem" "$RATE" "$CYCLES"
echo "   $(python3 bench/webhook/cycle.py "$WORK/data/callgate.sqlite" steady "$CYCLES")"

echo "3. cycle time with runs started as fast as possible, $CYCLES runs..."
FLOOD=$(deploy flood /callback)
PER_THREAD=$(( CYCLES / 2 )) wrk -t2 -c16 -d3600s -s bench/engine/trigger.lua "$FLOOD" > /dev/null &
WRK_PID=$!
echo "   $(python3 bench/webhook/cycle.py "$WORK/data/callgate.sqlite" flood "$CYCLES")"
kill "$WRK_PID" 2>/dev/null || true
