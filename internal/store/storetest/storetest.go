// Package storetest opens migrated test databases on both engines, so every
// storage-backed test runs on SQLite and on PostgreSQL.
package storetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/store"
	"roster/internal/testenv"
)

// Open returns a freshly migrated database of the given engine, closed when
// the test ends. PostgreSQL needs ROSTER_TEST_POSTGRES_URL (else the test
// skips loudly, or fails under ROSTER_TEST_STRICT=1).
func Open(t testing.TB, engine store.Engine) *store.DB {
	t.Helper()
	ctx := context.Background()
	url := ""
	if engine == store.Postgres {
		url = testenv.FreshPostgres(t)
	}
	db, err := store.Open(ctx, url, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

// Each runs fn as a subtest on each engine.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			fn(t, Open(t, e))
		})
	}
}

// Queries records the statements db runs until the returned stop is
// called, which returns them with their whitespace collapsed.
func Queries(db *store.DB) (stop func() []string) {
	var mu sync.Mutex
	var seen []string
	db.SetQueryHook(func(q string) {
		mu.Lock()
		seen = append(seen, strings.Join(strings.Fields(q), " "))
		mu.Unlock()
	})
	return func() []string {
		db.SetQueryHook(nil)
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// Listen runs db's change listener until the test ends, as serve does, and
// waits until caches may be used (at once on SQLite; on PostgreSQL, caches
// are used only while it is connected).
func Listen(t testing.TB, db *store.DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); db.ListenChanges(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); !db.CachesLive(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the change listener did not connect")
		}
	}
}
