#!/usr/bin/env bash
# A short run of every fuzz target (go test -fuzz takes one target and one
# package at a time). Each target runs a fixed number of inputs: a count,
# unlike a duration, never ends with the fuzz runner's spurious "context
# deadline exceeded". FUZZTIME overrides it for every target, e.g.
# FUZZTIME=10m ./scripts/fuzz.sh for a long run.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(
  "./internal/core FuzzNormalizePhone 20000x"
  "./internal/core FuzzNormalizeName 20000x"
  "./internal/photo FuzzProcess 4000x"
  "./internal/photo FuzzOrientation 20000x"
  "./internal/security FuzzMatchTOTP 20000x"
  "./internal/security FuzzParseAllowlist 20000x"
  "./internal/notify FuzzEventData 5000x"
  "./internal/notify FuzzUnsubscribeToken 20000x"
  "./internal/notify/mobile/fcm FuzzClassify 20000x"
  "./internal/notify/mobile/apns FuzzClassify 20000x"
  "./internal/notify/mobile/push FuzzRetryAfter 20000x"
  "./internal/notify/telegram FuzzWebhook 300x"
  "./internal/api FuzzRouteBodies 2000x"
  "./internal/api FuzzDuplicateKey 20000x"
  "./internal/web FuzzPhotoForm 2000x"
)
for t in "${targets[@]}"; do
  set -- $t
  n="${FUZZTIME:-$3}"
  echo "fuzz: $2 in $1 for $n"
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$n" "$1"
done
