# Shared by the HTTPS benchmarks (sourced): a scratch directory removed on exit together with the
# background processes, two free loopback ports (the gateway's and a subscriber's), the admin token.
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SUBSCRIBER_PORT=$(free_port)
BASE="https://127.0.0.1:$PORT"
export CALLGATE_ADMIN_TOKEN=bench
