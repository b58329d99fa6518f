#!/usr/bin/env bash
# go test with the skips made visible: go test prints nothing of a passing
# package without -v, so every loud skip (internal/testenv) is also written
# to a file and listed here after the run, with a count in the last line.
set -uo pipefail
skiplog=$(mktemp)
trap 'rm -f "$skiplog"' EXIT
ROSTER_TEST_SKIPLOG="$skiplog" go test "$@"
rc=$?
if [ -s "$skiplog" ]; then
  # One block per reason: how many tests, and in which packages.
  echo
  sort -u "$skiplog" | awk -F': ' '
    { split($2, w, " "); n[$3]++; if (!(($3, w[1]) in seen)) { seen[$3, w[1]] = 1; pk[$3] = pk[$3] " " w[1] } }
    END { for (r in n) printf "SKIPPED: %d test(s): %s\n  in:%s\n", n[r], r, pk[r] }'
  echo "test: $(sort -u "$skiplog" | wc -l) test(s) SKIPPED for a missing tool or service (see above); ROSTER_TEST_STRICT=1 makes them failures"
fi
exit $rc
