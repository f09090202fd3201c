#!/usr/bin/env bash
# The API listener's load figures against a real hearthd (docs/benchmarks.md, "HTTP listener"):
#   1. 10,000 streaming connections held: each follows GET /v1/requests/{id}/events of one long
#      request while the worker is stopped (SIGSTOP), so the streams stay open and quiet;
#   2. 2,000 slowloris connections (a header line every 2 s);
#   3. a flood of 2 million header lines on one connection;
#   4. a 1 GiB chunked body;
# each with /healthz p50/p99 and hearthd's RSS and threads, from bench/http/hold_connections.py.
# Usage: bench/http/hearthd_hold.sh [BUILD_DIR]   (model: $HEARTH_MODEL_PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${1:-build}"
MODEL="${HEARTH_MODEL_PATH:?set HEARTH_MODEL_PATH to a GGUF model}"
DIR=$(mktemp -d)
PORT=18480 ADMIN=18481
cat > "$DIR/hearth.toml" <<TOML
[scheduler]
token_budget = 128
[http]
max_connections = 20000
max_connections_per_client = 20000
TOML
"$BUILD/bin/hearthd" --config "$DIR/hearth.toml" --listen 127.0.0.1:$PORT --admin-listen 127.0.0.1:$ADMIN \
  --data-dir "$DIR/data" --model "smollm2=$MODEL" > "$DIR/hearthd.log" 2>&1 &
HEARTHD=$!
WORKER=0 CURL=0
trap 'kill -CONT $WORKER 2>/dev/null || true; kill $CURL 2>/dev/null || true; kill $HEARTHD 2>/dev/null || true; wait $HEARTHD 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
WORKER=$(curl -s "http://127.0.0.1:$ADMIN/admin/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["workers"][0]["pid"])')
# One long request, its client kept connected, then the worker stopped: the request's events
# stream stays open with nothing to say.
curl -s -N -D "$DIR/headers" -o /dev/null "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model":"smollm2","prompt":"Once upon a time","max_tokens":4000,"stream":true}' &
CURL=$!
for _ in $(seq 100); do grep -qi '^x-request-id' "$DIR/headers" 2>/dev/null && break; sleep 0.1; done
ID=$(tr -d '\r' < "$DIR/headers" | awk -F': ' 'tolower($1)=="x-request-id"{print $2}')
kill -STOP "$WORKER"
echo "hearthd $HEARTHD, worker $WORKER (stopped), request $ID"
HOLD=(python3 bench/http/hold_connections.py --url "http://127.0.0.1:$PORT" --pid "$HEARTHD")
"${HOLD[@]}" --mode stream --path "/v1/requests/$ID/events" --connections 10000
"${HOLD[@]}" --mode slowloris --connections 2000 --measure 0 --settle 1
"${HOLD[@]}" --mode headers --headers 2000000 --connections 1 --measure 0 --settle 1
"${HOLD[@]}" --mode chunked --body-mb 1024 --connections 1 --measure 0 --settle 1
