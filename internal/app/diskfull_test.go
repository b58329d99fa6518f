package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"roster/internal/app"
	"roster/internal/store"
)

// TestSQLiteFullOrReadOnly: with SQLite's file unable to grow (a full
// disk, through max_page_count) events are refused with a clear 503 and
// Retry-After, nothing half stored; reads go on; the file stays sound;
// once it may grow again, events are taken. The same with the database
// read-only (query_only): saves are refused the same way, reads go on.
func TestSQLiteFullOrReadOnly(t *testing.T) {
	ctx := context.Background()
	r := start(t, store.SQLite, app.Config{APIRate: 1e6, APIBurst: 1_000_000})
	setup := setupAna(t, r, "en")
	token, _ := newToken(t, r, setup.User)
	event := func(n int) (int, string) {
		status, body := apiRequest(t, r, http.MethodPost, "/api/v1/events", token, "application/json",
			[]byte(fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":"Task %d %s","from":"Ada"}}`, setup.User.ID, n, strings.Repeat("x", 150))))
		return status, string(body)
	}
	count := func() (n int) {
		if err := r.DB.R.QueryRowContext(ctx, "SELECT count(*) FROM notify_events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pragma := func(q string) {
		t.Helper()
		if _, err := r.DB.W.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	healthy := func() {
		t.Helper()
		var check string
		if err := r.DB.R.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("integrity_check: %q %v", check, err)
		}
		if status, body := apiRequest(t, r, http.MethodGet, "/api/v1/me", token, "", nil); status != http.StatusOK {
			t.Fatalf("a read while writes are refused: %d %s", status, body)
		}
	}
	refused := func(status int, body string) bool {
		t.Helper()
		switch {
		case status == http.StatusServiceUnavailable && strings.Contains(body, "storage is full or read-only"):
			return true
		case status/100 != 2:
			t.Fatalf("answer %d %s, want 2xx or 503 with the storage message", status, body)
		}
		return false
	}

	// The disk is full: the file may not grow past its size now.
	var pages int
	if err := r.DB.W.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	pragma(fmt.Sprintf("PRAGMA max_page_count = %d", pages))
	accepted, full := 0, false
	for n := range 5000 {
		status, body := event(n)
		if refused(status, body) {
			full = true
			break
		}
		accepted++
	}
	if !full {
		t.Fatal("5000 events fitted in a full disk")
	}
	if got := count(); got != accepted {
		t.Fatalf("%d events stored, %d accepted", got, accepted)
	}
	healthy()
	pragma("PRAGMA max_page_count = 1073741823")
	if status, body := event(-1); status != http.StatusAccepted {
		t.Fatalf("after room was made: %d %s", status, body)
	}

	// Read-only.
	pragma("PRAGMA query_only = 1")
	status, body := apiRequest(t, r, http.MethodPatch, "/api/v1/me", token, "application/json", []byte(`{"name":"Ana Read Only"}`))
	if !refused(status, string(body)) {
		t.Fatalf("a save on a read-only database: %d %s", status, body)
	}
	healthy()
	pragma("PRAGMA query_only = 0")
	if status, body := apiRequest(t, r, http.MethodPatch, "/api/v1/me", token, "application/json", []byte(`{"name":"Ana Writable"}`)); status != http.StatusOK {
		t.Fatalf("after the database is writable again: %d %s", status, body)
	}
}
