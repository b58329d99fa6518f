#!/usr/bin/env bash
# A short run of every fuzz target (go test -fuzz takes one target and one
# package at a time). FUZZTIME sets the time per target (default 10s);
# longer runs: FUZZTIME=10m ./scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
targets=(
  "./internal/core FuzzNormalizePhone"
  "./internal/core FuzzNormalizeName"
  "./internal/photo FuzzProcess"
  "./internal/photo FuzzOrientation"
  "./internal/security FuzzMatchTOTP"
  "./internal/security FuzzParseAllowlist"
)
for t in "${targets[@]}"; do
  set -- $t
  echo "fuzz: $2 in $1 for $fuzztime"
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1"
done
