# Shared by the HTTPS benchmarks (sourced): a scratch directory removed on exit together with the
# background processes, two free loopback ports (the gateway's and a subscriber's), the admin token.
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SUBSCRIBER_PORT=$(free_port)
BASE="https://127.0.0.1:$PORT"
export CALLGATE_ADMIN_TOKEN=bench

# Builds `callgate` in release and serves it from the scratch directory on $PORT, waiting until ready.
start_callgate() {
  swift build -c release --product callgate
  local callgate
  callgate="$(swift build -c release --show-bin-path)/callgate"
  (cd "$WORK" && exec "$callgate" serve --listen "127.0.0.1:$PORT" --public-url "$BASE" --log-level error > "$WORK/gateway.log" 2>&1) &
  until curl -sfk "$BASE/readyz" >/dev/null 2>&1; do sleep 0.05; done
}
