# Roster developer targets. `make test` is the whole suite (see README).
GO ?= go
# The Go toolchain: 1.26.8 has vulnerabilities in standard-library code Roster
# calls (net/http, crypto/tls, html/template: make vulncheck), fixed in later
# releases; 1.27.3 is the newest the module proxy serves us, and the go
# command fetches it (about 76 MB, once). Set GOTOOLCHAIN to override.
export GOTOOLCHAIN ?= go1.27.3
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X roster/internal/app.Version=$(VERSION)

.PHONY: run build test test-short test-postgres test-e2e fuzz lint vulncheck bench bench-quick bench-go soak

run:
	$(GO) run ./cmd/roster serve

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o roster ./cmd/roster

# Everything: unit, storage on SQLite and PostgreSQL, browser.
test:
	./scripts/test.sh

# Without PostgreSQL or Chromium (their tests skip loudly).
test-short:
	./scripts/gotest.sh ./...

# Every test of every package but the browser tests, with PostgreSQL required
# (strict: a missing server fails). No name filter: a filter once let
# table-driven tests run with zero rows and pass.
test-postgres:
	ROSTER_TEST_STRICT=1 PACKAGES="$$($(GO) list ./... | grep -v /e2e)" ./scripts/test.sh

test-e2e:
	$(GO) test -count=1 -v ./e2e/...

# Every fuzz target briefly (FUZZTIME=10m make fuzz for a longer run).
fuzz:
	./scripts/fuzz.sh

# govulncheck against Go's vulnerability database, built from a pinned
# golang.org/x/vulndb (scripts/vulncheck.sh); fails on a vulnerability in
# code Roster calls.
vulncheck:
	./scripts/vulncheck.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

# The load benchmarks against a bare baseline (bench/run.sh with wrk, then
# bench/load; on PostgreSQL too when pg_isready -h 127.0.0.1 answers):
# results in bench/results/.
bench:
	./bench/run.sh

# 30 minutes of steady mixed load on each engine (bench/soak.sh): errors,
# p99 over time, goroutines and RSS growth, into bench/results/soak-*.md.
soak:
	./bench/soak.sh

# The 2-minute subset: fewer people, shorter rounds, SQLite only
# (BENCH_POSTGRES=1 make bench-quick adds PostgreSQL, about 3 minutes).
bench-quick:
	BENCH_POSTGRES=$${BENCH_POSTGRES:-0} WORKSPACES=2 USERS=1000 NOTIFICATIONS=20 DURATION=3s ROUNDS=1 LOAD_DURATION=2s LOGIN_DURATION=6s STREAMS=200 HOLD=2s ./bench/run.sh

# The Go benchmarks of each package.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...
