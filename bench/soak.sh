#!/usr/bin/env bash
# Roster's soak (issue 12): SOAK_DURATION (30m) of a steady mixed load at
# SOAK_RATE (200) requests a second on each engine — profile reads,
# notification lists, the profile page, name saves, events to 20 people
# whose streams stay open — with p99, errors, RSS and goroutines taken
# every SOAK_WINDOW (1m). Met: no error, every stream open to the end,
# RSS at the end at most 10 % above what it was after the first window.
# Writes bench/results/soak-<stamp>.md (and .json).
#
#   make soak                               # 30 minutes on each engine
#   SOAK_DURATION=2m SOAK_WINDOW=20s make soak
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_DURATION=${SOAK_DURATION:-30m}
SOAK_RATE=${SOAK_RATE:-200}
SOAK_WINDOW=${SOAK_WINDOW:-1m}
dir=$(mktemp -d)
pids=()
made_db=
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$made_db" ] && PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -U "${PGUSER:-postgres}" -qc 'DROP DATABASE IF EXISTS roster_soak WITH (FORCE)' postgres >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
engines=(sqlite)
if [ "${SOAK_POSTGRES:-1}" != 0 ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1; then
  PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -U "${PGUSER:-postgres}" -qc 'DROP DATABASE IF EXISTS roster_soak WITH (FORCE)' -c 'CREATE DATABASE roster_soak' postgres
  made_db=1
  engines+=(postgres)
fi
go build -o "$dir/roster" ./cmd/roster
go build -o "$dir/load" ./bench/load
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
md="bench/results/soak-$stamp.md"
json="bench/results/soak-$stamp.json"
{
  echo "# Soak, $stamp"
  echo
  echo "\`make soak\`: $SOAK_DURATION at $SOAK_RATE requests/s on each engine, windows of $SOAK_WINDOW; $(nproc) cores."
} >"$md"
echo "[" >"$json"
first=1
for engine in "${engines[@]}"; do
  data="$dir/data-$engine"
  args=(--data "$data")
  [ "$engine" = postgres ] && args+=(--database-url "postgres://${PGUSER:-postgres}@127.0.0.1:5432/roster_soak?sslmode=disable")
  "$dir/roster" seed "${args[@]}" --workspaces 2 --users-per-workspace 1000 --notifications-per-user 20 --credentials "$dir/creds-$engine.jsonl" >/dev/null
  addr="127.0.0.1:$((20000 + RANDOM % 10000))"
  metrics="127.0.0.1:$((30000 + RANDOM % 10000))"
  "$dir/roster" serve "${args[@]}" --addr "$addr" --metrics-addr "$metrics" --api-rate 1000000 --api-burst 1000000 \
    --log-format json >"$dir/roster-$engine.log" 2>&1 &
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do curl -sf "http://$addr/healthz" >/dev/null && break; sleep 0.1; done
  "$dir/load" soak --engine "$engine" --url "http://$addr" --creds "$dir/creds-$engine.jsonl" --pid "$pid" \
    --metrics "http://$metrics/metrics" --duration "$SOAK_DURATION" --rate "$SOAK_RATE" --window "$SOAK_WINDOW" --out "$md" >"$dir/soak.out" ||
    echo "soak: load failed on $engine"
  while read -r line; do
    [ $first = 1 ] || echo "," >>"$json"; first=0
    printf '  %s' "$line" >>"$json"
    echo >>"$md"
    echo "**$engine**: $(sed -n 's/.*"figure":"\([^"]*\)".*"met":\([a-z]*\).*/\1 — goal met: \2/p' <<<"$line")" >>"$md"
  done <"$dir/soak.out"
  errors=$(grep -c '"level":"ERROR"' "$dir/roster-$engine.log" || true)
  echo >>"$md"
  echo "Server log: $errors lines at level ERROR." >>"$md"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo "]" >>"$json"
cat "$md"
echo "soak: wrote $md and $json"
