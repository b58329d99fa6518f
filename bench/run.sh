#!/usr/bin/env bash
# Roster's benchmark suite (issue 11): builds roster and the bare baseline
# (bench/baseline), seeds a database, then for each scenario drives load
# with wrk over loopback against Roster and against the baseline, in turn
# (Roster, baseline, Roster, baseline), and writes every figure and each
# scenario's ratio to the baseline measured in the same run to
# bench/results/<stamp>.json and .md. After the wrk scenarios of each
# engine, wrk drives the most events/s, and bench/load what wrk cannot:
# sign-in against argon2id's hashes/s, post → SSE receipt latency, one
# event to all of a workspace's streams, and idle streams.
#
#   make bench          # 100,000 people, 100 notifications each, 10 s rounds, 10,000 streams
#   make bench-quick    # 2,000 people, 20 notifications each, 3 s rounds, 200 streams, SQLite only
#   BENCH_POSTGRES=1 make bench-quick   # the same with PostgreSQL beside it
#   ROSTER_BENCH_POSTGRES_URL=postgres://... make bench   # PostgreSQL at that URL
#
# PostgreSQL runs beside SQLite: at ROSTER_BENCH_POSTGRES_URL when it is
# set, else, when `pg_isready -h 127.0.0.1` answers, in a database
# roster_bench created for the run and dropped after it (PGUSER, default
# postgres; BENCH_POSTGRES=0 skips it).
#
# Settings (environment): WORKSPACES, USERS, NOTIFICATIONS, DURATION,
# CONNECTIONS, ROUNDS; for bench/load: LOAD_DURATION, LOGIN_DURATION,
# STREAMS, HOLD.
#
# Ten thousand streams need as many open files in the server and in the
# load generator: the script raises its limit to 65,536 or the hard limit;
# if it says the limit is too low, raise the hard one (ulimit -Hn, or
# LimitNOFILE in a service) and run again.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKSPACES=${WORKSPACES:-10}
USERS=${USERS:-10000}
NOTIFICATIONS=${NOTIFICATIONS:-100}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
LOAD_DURATION=${LOAD_DURATION:-10s}
LOGIN_DURATION=${LOGIN_DURATION:-10s}
STREAMS=${STREAMS:-10000}
HOLD=${HOLD:-10s}
command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)"; exit 1; }

# Streams are open files, in the server (started from here) and in bench/load.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((STREAMS + 1000)) ]; then
  echo "bench: the open-files limit is $(ulimit -n), too low for $STREAMS streams: raise it (ulimit -n, as root or in limits.conf) or set STREAMS"
fi

dir=$(mktemp -d)
pids=()
made_db=
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$made_db" ] && PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -U "${PGUSER:-postgres}" -qc 'DROP DATABASE IF EXISTS roster_bench WITH (FORCE)' postgres >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
if [ -z "${ROSTER_BENCH_POSTGRES_URL:-}" ] && [ "${BENCH_POSTGRES:-1}" != 0 ] && command -v pg_isready >/dev/null &&
  pg_isready -q -h 127.0.0.1; then
  PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -U "${PGUSER:-postgres}" -qc 'DROP DATABASE IF EXISTS roster_bench WITH (FORCE)' -c 'CREATE DATABASE roster_bench' postgres
  made_db=1
  ROSTER_BENCH_POSTGRES_URL="postgres://${PGUSER:-postgres}@127.0.0.1:5432/roster_bench?sslmode=disable"
fi
# Installed as a deployment would be (a copy): the pages of a file the
# linker has just written can sit in the page cache in large blocks that a
# process maps whole, so the same bytes freshly linked started at 53.9 and
# 54.4 MB and copied at 50.5 and 48.9 MB (RSS from the file: 36.4 against
# 31.9 MB; 2026-12-06): the start scenario's idle RSS would measure how the
# binary was written, not Roster.
go build -o "$dir/roster.linked" ./cmd/roster
install -m 0755 "$dir/roster.linked" "$dir/roster"
go build -o "$dir/baseline" ./bench/baseline
go build -o "$dir/load" ./bench/load
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

# wrk script of the most events/s: workspace 1's admin posts events for
# the centre only (chat.group) to one of its people, each with its own
# title, as bench/load events-max does; wrk drives it because it takes
# less than half the Go client's CPU per request, CPU the server shares.
cat >"$dir/events.lua" <<'LUA'
local token, recipient = os.getenv("TOKEN"), os.getenv("RECIPIENT")
local threads, seq = 0, 0
function setup(thread) threads = threads + 1; thread:set("first", threads * 1000000000) end
function init() seq = first end
request = function()
  seq = seq + 1
  local body = '{"type":"chat.group","recipients":[' .. recipient .. '],"data":{"title":"#' .. seq .. '#","from":"bench","text":"load"}}'
  return wrk.format("POST", "/api/v1/events", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
LUA

wait_up() { for _ in $(seq 100); do curl -sf "http://$1/healthz" >/dev/null && return 0; sleep 0.1; done; echo "bench: $1 did not start"; exit 1; }
rss_peak() { awk '/VmHWM/ {print $2 * 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }

# wrk_latency_errors OUT: p50, p99 and errors (non-2xx answers and socket
# errors) of a wrk run's output.
wrk_latency_errors() {
  p50=$(awk '$1 == "50%" {print $2}' <<<"$1")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$1")
  errors=$(awk '/Non-2xx/ {n += $5} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$1")
}

# run ENGINE NAME METHOD PATH KIND BODY [CREDS]: one scenario, interleaved
# rounds; KIND is bearer (API tokens) or cookie (web sessions).
run() {
  local engine=$1 name=$2 method=$3 path=$4 kind=$5 body=$6
  local creds="$dir/tokens"; [ "$kind" = cookie ] && creds="$dir/sessions"
  [ -n "${7:-}" ] && creds=$7
  for round in $(seq "$ROUNDS"); do
    for target in roster baseline; do
      local addr=$roster_addr pid=$roster_pid; [ $target = baseline ] && addr=$baseline_addr pid=$baseline_pid
      # Roster's round may leave work queued (the events' email
      # deliveries): the baseline's round must not share the machine with it.
      settle "$roster_pid"
      out=$(CREDS=$creds KIND=$kind METHOD=$method BODY=$body wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$dir/load.lua" "http://$addr$path" 2>&1)
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
      wrk_latency_errors "$out"
      [ $first = 1 ] || echo "," >>"$json"; first=0
      printf '  {"engine": "%s", "scenario": "%s", "target": "%s", "round": %d, "requests_per_s": %s, "p50": "%s", "p99": "%s", "errors": %d, "peak_rss_bytes": %s}' \
        "$engine" "$name" "$target" "$round" "${rps:-0}" "$p50" "$p99" "$errors" "$(rss_peak "$pid")" >>"$json"
      printf '%-8s %-28s %-8s round %d: %10s req/s  p50 %8s  p99 %8s  errors %s\n' "$engine" "$name" "$target" "$round" "$rps" "$p50" "$p99" "$errors"
    done
  done
}

# start_roster ENGINE: Roster serving $data on a random port, rate limits
# out of the way; sets roster_addr and roster_pid.
start_roster() {
  roster_addr="127.0.0.1:$((20000 + RANDOM % 10000))"
  "$dir/roster" serve "${args[@]}" --addr "$roster_addr" --api-rate 1000000 --api-burst 1000000 --log-format json >>"$dir/roster-$1.log" 2>&1 &
  roster_pid=$!; pids+=("$roster_pid")
  wait_up "$roster_addr"
}

stop_roster() { kill "$roster_pid" 2>/dev/null || true; wait "$roster_pid" 2>/dev/null || true; }

# settle PID: writes the machine's dirty pages out (sync), then waits until
# the server is idle (under 20 % of a core for a second; an idle server
# polls its SQLite job queues with about 5 %), at most 2 minutes, and says
# how long it took when it had to wait. Work an earlier scenario left
# queued (the email deliveries of thousands of posted events) otherwise
# runs during the next one and is measured as its cost; the sync keeps
# the kernel's writeback of what a scenario wrote out of the next one too.
settle() {
  local pid=$1 tck a b t0=$SECONDS
  sync
  tck=$(getconf CLK_TCK)
  while (( SECONDS - t0 < 120 )); do
    a=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || return 0
    sleep 1
    b=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || return 0
    if (( (b - a) * 5 < tck )); then
      if (( SECONDS - t0 > 1 )); then echo "bench: server idle after $(( SECONDS - t0 )) s"; fi
      return 0
    fi
  done
  echo "bench: server still busy after 120 s; going on"
}

# load ENGINE SCENARIO [FLAGS]: one bench/load scenario against Roster,
# once the server is idle; its JSON lines join the file, its summary goes
# to the terminal.
load() {
  local engine=$1 scenario=$2; shift 2
  settle "$roster_pid"
  "$dir/load" "$scenario" --engine "$engine" --url "http://$roster_addr" --creds "$dir/creds-$engine.jsonl" --pid "$roster_pid" "$@" >"$dir/load.out" ||
    { echo "bench: load $scenario failed"; return 0; }
  while read -r line; do
    [ $first = 1 ] || echo "," >>"$json"; first=0
    printf '  %s' "$line" >>"$json"
  done <"$dir/load.out"
}

# events_max ENGINE: the most events/s taken in (issue 11: ≥ 5,000), with
# wrk over LOAD_DURATION once the server is idle; a row for bench/report's
# targets table.
events_max() {
  local engine=$1 out eps p50 p99 errors met
  settle "$roster_pid"
  out=$(TOKEN=$admin_token RECIPIENT=$recipient2 wrk -t2 -c64 -d"$LOAD_DURATION" --latency -s "$dir/events.lua" "http://$roster_addr" 2>&1) ||
    { echo "bench: wrk of the most events/s failed: $out"; return 0; }
  wrk_latency_errors "$out"
  # Events taken in: wrk's requests but the refused ones, over its time
  # ("59850 requests in 10.00s, …").
  eps=$(awk -v e="$errors" '/ requests in / {s = $4; m = s ~ /m,$/; gsub(/[a-z,]/, "", s); if (m) s *= 60; printf "%.0f", ($1 - e) / s}' <<<"$out")
  met=false; [ "${eps:-0}" -ge 5000 ] && [ "$errors" = 0 ] && met=true
  [ $first = 1 ] || echo "," >>"$json"; first=0
  printf '  {"engine": "%s", "scenario": "POST /api/v1/events, most events/s", "target": "roster", "round": 1, "requests_per_s": %s, "p50": "%s", "p99": "%s", "errors": %d, "figure": "%s events/s (64 connections, wrk; p99 %s); %d errors", "goal": "≥ 5,000 events/s", "met": %s, "value": %s, "better": "higher"}' \
    "$engine" "${eps:-0}" "$p50" "$p99" "$errors" "${eps:-0}" "$p99" "$errors" "$met" "${eps:-0}" >>"$json"
  printf '%-8s %-34s %s events/s (64 connections, wrk; p50 %s, p99 %s); %d errors\n' "$engine" "POST /api/v1/events, most events/s" "$eps" "$p50" "$p99" "$errors"
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
  # (awk stops itself: head would end it with SIGPIPE, which pipefail makes fatal)
  awk -v s="$step" -v n="$CONNECTIONS" '(NR % s == 1 || s == 1) && k++ < n' "$dir/creds-$engine.jsonl" >"$dir/clients.jsonl"
  sed -n 's/.*"api_token":"\([^"]*\)".*/\1/p' "$dir/clients.jsonl" >"$dir/tokens"
  sed -n 's/.*"session":"\([^"]*\)".*/\1/p' "$dir/clients.jsonl" >"$dir/sessions"
  # Workspace 1's people, in one pass: the wrk events go to its first
  # person (on PostgreSQL workspaces are seeded side by side, so that is
  # not always user 1), posted with the tokens of that workspace; for the
  # most events/s its admin posts to its second person (to itself when
  # it is alone).
  : >"$dir/tokens-ws1"
  IFS='|' read -r recipient recipient2 admin_token < <(awk -v tokens="$dir/tokens-ws1" '/"workspace_id":1,/ {
      match($0, /"user_id":[0-9]+/); id = substr($0, RSTART + 10, RLENGTH - 10)
      match($0, /"api_token":"[^"]*"/); token = substr($0, RSTART + 13, RLENGTH - 14)
      print token > tokens
      if (++n == 1) first = id; else if (n == 2) second = id
      if (admin == "" && /"admin":true/) admin = token
    }
    END { print first "|" (second != "" ? second : first) "|" admin }' "$dir/creds-$engine.jsonl") || true
  [[ $recipient =~ ^[0-9]+$ ]] || { echo "bench: no person of workspace 1 in the credentials"; exit 1; }
  [ -n "${admin_token:-}" ] || { echo "bench: no admin of workspace 1 in the credentials"; exit 1; }
  baseline_addr="127.0.0.1:$((30000 + RANDOM % 10000))"
  start=$(date +%s%N)
  start_roster "$engine"
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
  run "$engine" "POST /api/v1/events" POST /api/v1/events bearer '{"type":"task.assigned","recipients":['"$recipient"'],"data":{"title":"Call Bea","from":"Ada"}}' "$dir/tokens-ws1"
  kill "$baseline_pid" 2>/dev/null || true
  wait "$baseline_pid" 2>/dev/null || true

  load "$engine" login --duration "$LOGIN_DURATION"
  load "$engine" sse-latency --duration "$LOAD_DURATION"
  events_max "$engine"
  load "$engine" broadcast --streams "$STREAMS"
  # Idle streams on a fresh server: its RSS is then theirs, not what the
  # scenarios before them left in the heap.
  stop_roster
  start_roster "$engine"
  load "$engine" idle-streams --streams "$STREAMS" --hold "$HOLD"
  # Names saved by 64 people while the server is killed (kill -9); after a
  # restart each has the last name acknowledged, and the log of the whole
  # run (the PATCH scenario included) has no SQLITE_BUSY.
  settle "$roster_pid"
  "$dir/load" patch-durable --url "http://$roster_addr" --creds "$dir/creds-$engine.jsonl" --pid "$roster_pid" \
    --duration "$LOAD_DURATION" --state "$dir/patch-$engine.json" || echo "bench: load patch-durable failed"
  wait "$roster_pid" 2>/dev/null || true
  start_roster "$engine"
  load "$engine" patch-check --state "$dir/patch-$engine.json" --log "$dir/roster-$engine.log"
  stop_roster
done
echo "]" >>"$json"

# The Markdown table: per engine and scenario, the median of the rounds.
go run ./bench/report "$json" >"$md"
cat "$md"
echo "bench: wrote $json and $md"
