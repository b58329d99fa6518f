#!/usr/bin/env bash
# Roster's benchmark suite (issue 11): builds roster and the bare baseline
# (bench/baseline), seeds a database, then for each scenario drives load
# with wrk over loopback against Roster and against the baseline, in turn
# (Roster, baseline, Roster, baseline), and writes every figure and each
# scenario's ratio to the baseline measured in the same run to
# bench/results/<stamp>.json and .md.
#
#   make bench          # 100,000 people, 100 notifications each, 10 s rounds
#   make bench-quick    # 2,000 people, 20 notifications each, 3 s rounds
#   ROSTER_BENCH_POSTGRES_URL=postgres://... make bench   # also on PostgreSQL
#
# Settings (environment): WORKSPACES, USERS, NOTIFICATIONS, DURATION,
# CONNECTIONS, ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKSPACES=${WORKSPACES:-10}
USERS=${USERS:-10000}
NOTIFICATIONS=${NOTIFICATIONS:-100}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)"; exit 1; }

dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
go build -o "$dir/roster" ./cmd/roster
go build -o "$dir/baseline" ./bench/baseline
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
json="bench/results/$stamp.json"
md="bench/results/$stamp.md"
echo "[" >"$json"
first=1

# wrk script: each request takes a random client's credential.
cat >"$dir/load.lua" <<'LUA'
local creds = {}
for line in io.lines(os.getenv("CREDS")) do creds[#creds + 1] = line end
local kind, method, body = os.getenv("KIND"), os.getenv("METHOD"), os.getenv("BODY")
if body == "" then body = nil end
math.randomseed(os.time())
request = function()
  local c = creds[math.random(#creds)]
  local h = {["Content-Type"] = "application/json"}
  if kind == "cookie" then h["Cookie"] = "roster_session=" .. c else h["Authorization"] = "Bearer " .. c end
  return wrk.format(method, nil, h, body)
end
LUA

wait_up() { for _ in $(seq 100); do curl -sf "http://$1/healthz" >/dev/null && return 0; sleep 0.1; done; echo "bench: $1 did not start"; exit 1; }
rss_peak() { awk '/VmHWM/ {print $2 * 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }

# run ENGINE NAME METHOD PATH KIND BODY [CREDS]: one scenario, interleaved
# rounds; KIND is bearer (API tokens) or cookie (web sessions).
run() {
  local engine=$1 name=$2 method=$3 path=$4 kind=$5 body=$6
  local creds="$dir/tokens"; [ "$kind" = cookie ] && creds="$dir/sessions"
  [ -n "${7:-}" ] && creds=$7
  for round in $(seq "$ROUNDS"); do
    for target in roster baseline; do
      local addr=$roster_addr pid=$roster_pid; [ $target = baseline ] && addr=$baseline_addr pid=$baseline_pid
      out=$(CREDS=$creds KIND=$kind METHOD=$method BODY=$body wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$dir/load.lua" "http://$addr$path" 2>&1)
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
      p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      errors=$(awk '/Non-2xx/ {n += $5} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
      [ $first = 1 ] || echo "," >>"$json"; first=0
      printf '  {"engine": "%s", "scenario": "%s", "target": "%s", "round": %d, "requests_per_s": %s, "p50": "%s", "p99": "%s", "errors": %d, "peak_rss_bytes": %s}' \
        "$engine" "$name" "$target" "$round" "${rps:-0}" "$p50" "$p99" "$errors" "$(rss_peak "$pid")" >>"$json"
      printf '%-8s %-28s %-8s round %d: %10s req/s  p50 %8s  p99 %8s  errors %s\n' "$engine" "$name" "$target" "$round" "$rps" "$p50" "$p99" "$errors"
    done
  done
}

engines=(sqlite)
[ -n "${ROSTER_BENCH_POSTGRES_URL:-}" ] && engines+=(postgres)
for engine in "${engines[@]}"; do
  data="$dir/data-$engine"
  args=(--data "$data")
  [ "$engine" = postgres ] && args+=(--database-url "$ROSTER_BENCH_POSTGRES_URL")
  "$dir/roster" seed "${args[@]}" --workspaces "$WORKSPACES" --users-per-workspace "$USERS" \
    --notifications-per-user "$NOTIFICATIONS" --credentials "$dir/creds-$engine.jsonl"
  # As many clients as connections, spread over the workspaces: each
  # credential is then used as often as a busy client uses its own (a
  # random one of 100,000 per request would make every request its
  # token's first of the minute, which is written down).
  step=$(( WORKSPACES * USERS / CONNECTIONS )); [ "$step" -lt 1 ] && step=1
  awk -v s="$step" 'NR % s == 1 || s == 1' "$dir/creds-$engine.jsonl" | head -n "$CONNECTIONS" >"$dir/clients.jsonl"
  sed -n 's/.*"api_token":"\([^"]*\)".*/\1/p' "$dir/clients.jsonl" >"$dir/tokens"
  sed -n 's/.*"session":"\([^"]*\)".*/\1/p' "$dir/clients.jsonl" >"$dir/sessions"
  # Events go to person 1, so they are posted with the tokens of person 1's workspace.
  sed -n 's/.*"workspace_id":1,.*"api_token":"\([^"]*\)".*/\1/p' "$dir/creds-$engine.jsonl" >"$dir/tokens-ws1"
  roster_addr="127.0.0.1:$((20000 + RANDOM % 10000))"
  baseline_addr="127.0.0.1:$((30000 + RANDOM % 10000))"
  start=$(date +%s%N)
  "$dir/roster" serve "${args[@]}" --addr "$roster_addr" --api-rate 1000000 --api-burst 1000000 --log-format json >"$dir/roster-$engine.log" 2>&1 &
  roster_pid=$!; pids+=("$roster_pid")
  wait_up "$roster_addr"
  ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  idle_rss=$(rss_peak "$roster_pid")
  echo "$engine: ready in ${ready_ms} ms, idle RSS $((idle_rss / 1048576)) MB"
  bargs=(--data "$data"); [ "$engine" = postgres ] && bargs=(--database-url "$ROSTER_BENCH_POSTGRES_URL")
  "$dir/baseline" "${bargs[@]}" --addr "$baseline_addr" >"$dir/baseline-$engine.log" 2>&1 &
  baseline_pid=$!; pids+=("$baseline_pid")
  wait_up "$baseline_addr"
  [ $first = 1 ] || echo "," >>"$json"; first=0
  printf '  {"engine": "%s", "scenario": "start", "ready_ms": %d, "idle_rss_bytes": %s}' "$engine" "$ready_ms" "$idle_rss" >>"$json"

  run "$engine" "GET /api/v1/me" GET /api/v1/me bearer ""
  run "$engine" "GET /api/v1/me/notifications" GET /api/v1/me/notifications bearer ""
  run "$engine" "GET /settings/profile" GET /settings/profile cookie ""
  run "$engine" "PATCH /api/v1/me" PATCH /api/v1/me bearer '{"name":"Bench Name"}'
  run "$engine" "POST /api/v1/events" POST /api/v1/events bearer '{"type":"task.assigned","recipients":[1],"data":{"title":"Call Bea","from":"Ada"}}' "$dir/tokens-ws1"
  kill "$roster_pid" "$baseline_pid" 2>/dev/null || true
  wait "$roster_pid" "$baseline_pid" 2>/dev/null || true
done
echo "]" >>"$json"

# The Markdown table: per engine and scenario, the median of the rounds.
go run ./bench/report "$json" >"$md"
cat "$md"
echo "bench: wrote $json and $md"
