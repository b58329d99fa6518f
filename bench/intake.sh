#!/usr/bin/env bash
# Measures event intake over HTTP: POST /api/v1/events, one recipient per
# event, with wrk (64 connections, 2 threads, loopback), on SQLite.
#   bash bench/intake.sh            # 10 s
#   DURATION=30s bash bench/intake.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/roster" ./cmd/roster
export ROSTER_DATA="$dir/data"
echo 'tangerine-violin-42' | "$dir/roster" user create --workspace Acme --name Ana --email ana@example.com --role admin >/dev/null
token=$("$dir/roster" token create --email ana@example.com --name bench | tail -1)
port=$((20000 + RANDOM % 20000))
"$dir/roster" serve --addr "127.0.0.1:$port" --api-rate 1000000 --api-burst 1000000 --log-format json >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"type":"task.assigned","recipients":[1],"data":{"title":"Call Bea","from":"Ada"}}'
LUA
wrk -t2 -c64 -d"${DURATION:-10s}" --latency -s "$dir/post.lua" "http://127.0.0.1:$port/api/v1/events"
echo "events stored: $(sqlite3 "$dir/data/roster.db" 'select count(*) from notify_events' 2>/dev/null || echo '?')"
