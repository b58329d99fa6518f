// Package testenv holds helpers that decide whether tests needing outside
// services (PostgreSQL) run, skip loudly, or fail.
//
// By default a missing service skips the test with a loud "SKIPPED:" line.
// With ROSTER_TEST_STRICT=1 (CI) a missing service fails the test instead,
// so a misconfigured pipeline cannot pass by silently skipping everything.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// PostgresURLEnv names the environment variable holding the URL of a
// PostgreSQL database tests may use.
const PostgresURLEnv = "ROSTER_TEST_POSTGRES_URL"

// Strict reports whether ROSTER_TEST_STRICT=1, in which case tests must not
// skip for lack of an outside service.
func Strict() bool { return os.Getenv("ROSTER_TEST_STRICT") == "1" }

// SkipLogEnv names a file that every skip is appended to. go test shows
// nothing of a passing package without -v, so scripts/gotest.sh sets it and
// prints the skips after the run: a machine without Chromium or
// PostgreSQL cannot pass for a full run unnoticed.
const SkipLogEnv = "ROSTER_TEST_SKIPLOG"

// SkipOrFail skips the test with a loud message, or fails it in strict mode.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatalf("ROSTER_TEST_STRICT=1 but %s", why)
	}
	logSkip(t.Name(), why)
	t.Skipf("SKIPPED: %s (set ROSTER_TEST_STRICT=1 to make this a failure)", why)
}

func logSkip(test, why string) {
	name := os.Getenv(SkipLogEnv)
	if name == "" {
		return
	}
	pkg, _ := os.Getwd() // go test runs each package in its folder
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	// One short write per line: appends from parallel test binaries do not
	// interleave.
	fmt.Fprintf(f, "SKIPPED: %s %s: %s\n", filepath.Base(pkg), test, why)
}

// PostgresURL returns ROSTER_TEST_POSTGRES_URL, or skips/fails the test when
// it is not set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresURLEnv)
	if u == "" {
		SkipOrFail(t, PostgresURLEnv+" is not set; PostgreSQL tests did not run")
	}
	return u
}

// FreshPostgres creates an empty database with a unique name through the
// server at ROSTER_TEST_POSTGRES_URL and returns its URL. The database is
// dropped (WITH (FORCE), so leftover connections do not block it) when the
// test ends. Each test gets its own database so tests can run in parallel
// and never see each other's rows.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random database name: %v", err)
	}
	name := "roster_t_" + hex.EncodeToString(b[:])

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresURLEnv, err)
	}
	defer admin.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The name is generated above from hex digits only, so quoting is safe.
	if _, err := admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("open %s for cleanup: %v", PostgresURLEnv, err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	return u.String()
}
