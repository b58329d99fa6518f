package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"roster/internal/store"
	"roster/internal/store/storetest"
)

// deadlineSpy records the read deadlines set on it.
type deadlineSpy struct {
	*httptest.ResponseRecorder
	reads []time.Time
}

func (d *deadlineSpy) SetReadDeadline(t time.Time) error { d.reads = append(d.reads, t); return nil }

// TestHumaLeavesReadDeadlines: reading a JSON body, the API framework sets
// no read deadline of its own (its default is 5 s, never lifted): the
// server's per-route deadlines rule and end with the body, so a sign-in
// waiting for the password hasher is not cancelled under it.
func TestHumaLeavesReadDeadlines(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{deps: roomy})
	mux := http.NewServeMux()
	e.api.Register(mux)
	w := &deadlineSpy{ResponseRecorder: httptest.NewRecorder()}
	r := httptest.NewRequest(http.MethodPost, Prefix+"/auth/login", strings.NewReader(`{"email":"ada@example.com","password":"`+testPassword+`"}`))
	r.Header.Set("Content-Type", "application/json")
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	if len(w.reads) != 0 {
		t.Fatalf("read deadlines set while answering: %v", w.reads)
	}
}
