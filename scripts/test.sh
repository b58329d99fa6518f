#!/usr/bin/env bash
# Runs the whole suite: unit tests, storage tests on SQLite and PostgreSQL,
# and browser tests in Chromium. PostgreSQL defaults to the local server on
# 127.0.0.1:5432 when ROSTER_TEST_POSTGRES_URL is not set; tests that cannot
# find PostgreSQL or Chromium skip loudly (or fail with ROSTER_TEST_STRICT=1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ROSTER_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  export ROSTER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
fi
if [ -n "${ROSTER_TEST_POSTGRES_URL:-}" ]; then
  echo "test: PostgreSQL tests use $ROSTER_TEST_POSTGRES_URL"
else
  echo "test: PostgreSQL not configured: its tests will skip (ROSTER_TEST_POSTGRES_URL)"
fi
go vet ./...
# PACKAGES narrows the run (make test-postgres); arguments go to go test.
./scripts/gotest.sh -count=1 -timeout 20m "$@" ${PACKAGES:-./...}
# A short fuzz run of every fuzz target (not when a subset was asked for).
if [ $# -eq 0 ] && [ -z "${PACKAGES:-}" ]; then ./scripts/fuzz.sh; fi
