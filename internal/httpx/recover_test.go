package httpx

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name       string
		mw         Middleware
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
	}{
		{"panic before write", Recover, func(http.ResponseWriter, *http.Request) { panic("boom") },
			500, "Internal Server Error\n"},
		{"panic with error", Recover, func(http.ResponseWriter, *http.Request) { panic(http.ErrBodyNotAllowed) },
			500, "Internal Server Error\n"},
		{"panic after write keeps status", Recover, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("partial"))
			panic("boom")
		}, 200, "partial"},
		{"custom error handler", RecoverWith(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("translated oops"))
		})), func(http.ResponseWriter, *http.Request) { panic("boom") }, 500, "translated oops"},
		{"no panic", Recover, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }, 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := Chain(tt.handler, RequestID, Logging(slog.New(slog.NewJSONHandler(&buf, nil))), tt.mw)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))

			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			lines := logLines(t, &buf)
			if tt.name == "no panic" {
				if len(lines) != 1 {
					t.Fatalf("want only the request line, got %v", lines)
				}
				return
			}
			if len(lines) != 2 {
				t.Fatalf("want panic line and request line, got %d", len(lines))
			}
			p := lines[0]
			if p["level"] != "ERROR" || p["request_id"] == nil {
				t.Errorf("panic line: %v", p)
			}
			if s, _ := p["stack"].(string); !strings.Contains(s, "recover_test.go") {
				t.Errorf("stack does not show the panicking handler: %q", s)
			}
			if lines[1]["status"] != float64(tt.wantStatus) {
				t.Errorf("request line status = %v", lines[1]["status"])
			}
		})
	}
}

func TestRecoverRepanicsAbortHandler(t *testing.T) {
	h := Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	t.Fatal("ServeHTTP returned normally")
}
