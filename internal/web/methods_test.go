package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/photo"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestWrongMethodOnPage: a page asked with a method it does not take is
// 405 with Allow, in the page's language; a path that is no page is 404.
func TestWrongMethodOnPage(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setup("es")
	cases := []struct {
		method, path, allow string
	}{
		{http.MethodDelete, "/settings/profile", "GET, HEAD, POST"},
		{http.MethodPut, "/login", "GET, HEAD, POST"},
		{http.MethodGet, "/settings/profile/password", "POST"},
		{http.MethodGet, "/logout", "POST"},
		{http.MethodPatch, "/invite/some-token", "GET, HEAD, POST"},
	}
	for _, tc := range cases {
		w := e.do(req{method: tc.method, path: tc.path, header: map[string]string{"Accept-Language": "es"}})
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"), tc.allow)
		}
		wantContains(t, w, "Esta página no acepta este tipo de solicitud.")
	}
	if w := e.get("/settings/no-such-page", ""); w.Code != http.StatusNotFound {
		t.Errorf("unknown page: %d, want 404", w.Code)
	}
}

// TestBusyIs503: a domain error saying "busy, retry" (every photo decode
// slot taken) is a 503 with Retry-After and its translated message, not a
// logged 500.
func TestBusyIs503(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	w := httptest.NewRecorder()
	v := &view{Lang: "ru"}
	err := &core.Error{Code: core.EUNAVAILABLE, Key: photo.KeyBusy, RetryAfter: 5 * time.Second, Err: errors.New("busy")}
	if status := e.h.applyError(context.Background(), w, v, err); status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", status)
	}
	if w.Header().Get("Retry-After") != "5" || v.Error != "Сейчас обрабатывается много фотографий. Повторите попытку через несколько секунд." {
		t.Fatalf("Retry-After %q, message %q", w.Header().Get("Retry-After"), v.Error)
	}
}
