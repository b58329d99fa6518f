package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"roster/internal/store"
	"roster/internal/store/storetest"
)

// BenchmarkPages serves pages to a signed-in person, with everything
// around them but the network (sessions, policy, rendering, headers):
// go test -run '^$' -bench Pages -benchmem ./internal/web/
func BenchmarkPages(b *testing.B) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := newEnv(b, storetest.Open(b, store.SQLite))
	e.setup("en")
	cookie := e.login("ada@acme.test")
	for _, path := range []string{"/settings/profile", "/settings/notifications", "/notifications"} {
		b.Run(path, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("Cookie", "roster_session="+cookie)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				e.srv.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, w.Code)
				}
			}
		})
	}
}
