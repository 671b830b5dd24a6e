#!/usr/bin/env bash
# Event hub benchmark (issue 7), through the bundled event-hub plugin and the real `callgate` binary:
#   1. ingest over HTTPS with a shared-access signature, batches of 100 events (events/s committed);
#   2. the same with one event per request;
#   3. events turned into runs: EVENTS events wait in a hub, then an OnEvents workflow (splitOn,
#      one run per event, batches of 100 per firing) reads them from the earliest position.
#   bench/eventhub.sh [SECONDS] [EVENTS]        (defaults 15 s per ingest measure, 20000 events)
# Needs wrk and python3 (apt-get install wrk python3).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-15}
EVENTS=${2:-20000}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

source bench/lib.sh
start_callgate
ADMIN=(-sfk -H "Authorization: Bearer bench" -H "Content-Type: application/json")
hub() { curl "${ADMIN[@]}" -X PUT --data "{\"partitions\": 4}" "$BASE/api/v1/plugins/event-hub/hubs/$1" >/dev/null; }
token() { curl "${ADMIN[@]}" -X POST --data '{"ttlSeconds": 36000}' "$BASE/api/v1/plugins/event-hub/hubs/$1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
python3 -c 'import json; print(json.dumps([{"Body": {"order": n, "amount": n * 3}, "BrokerProperties": {"PartitionKey": "customer-%d" % (n % 17)}} for n in range(100)]))' > "$WORK/batch.json"
echo '{"order": 1, "amount": 3}' > "$WORK/single.json"

ingest() { # BODY_FILE CONTENT_TYPE HUB → wrk's summary lines
  BODY_FILE="$1" TOKEN="$(token "$3")" CONTENT_TYPE="$2" wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s bench/eventhub/ingest.lua \
    "$BASE/plugins/event-hub/hubs/$3/messages" | grep -E "Requests/sec|Non-2xx|^ +(50|99)%"
}

echo "1. ingest, batches of 100 events, ${SECONDS_EACH} s, 16 connections..."
hub batches
ingest "$WORK/batch.json" application/vnd.microsoft.servicebus.json batches | sed 's/^/   /'
echo "2. ingest, one event per request, ${SECONDS_EACH} s, 16 connections..."
hub singles
ingest "$WORK/single.json" application/json singles | sed 's/^/   /'

echo "3. $EVENTS events waiting in a hub, then read by an OnEvents workflow (one run per event)..."
hub flow
FLOW_TOKEN=$(token flow)
for _ in $(seq 1 $(( EVENTS / 100 ))); do
  curl -sfk -o /dev/null -H "Authorization: $FLOW_TOKEN" -H "Content-Type: application/vnd.microsoft.servicebus.json" \
    --data-binary @"$WORK/batch.json" "$BASE/plugins/event-hub/hubs/flow/messages"
done
cat > "$WORK/flow.json" <<JSON
{"definition": {"triggers": {"events": {"type": "OnEvents", "splitOn": "@triggerBody()",
   "inputs": {"hub": "flow", "consumerGroup": "bench", "maxBatchSize": 100, "startPosition": "earliest"}}},
 "actions": {"Total": {"type": "Compose", "inputs": "@mul(triggerBody()?['body']?['amount'], 2)"}}}}
JSON
curl "${ADMIN[@]}" -X PUT --data-binary @"$WORK/flow.json" "$BASE/api/v1/workflows/flow" >/dev/null
echo "   $(python3 bench/eventhub/runs.py "$WORK/data/callgate.sqlite" flow "$EVENTS")"
