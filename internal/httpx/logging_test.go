package httpx

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// logLines decodes JSON slog output into one map per line.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogging(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		Logger(r.Context()).Info("in handler")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte("hello"))
	})
	// A request-copying middleware between Logging and the mux, fixed by
	// CaptureRoute.
	copying := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(r.Context()))
		})
	}

	tests := []struct {
		name    string
		handler func(logger *slog.Logger) http.Handler
	}{
		{"mux directly inside", func(l *slog.Logger) http.Handler {
			return Chain(mux, RequestID, Logging(l))
		}},
		{"copy in between with CaptureRoute", func(l *slog.Logger) http.Handler {
			return Chain(CaptureRoute(mux), RequestID, Logging(l), copying)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, nil))
			req := httptest.NewRequest("GET", "/users/42?token=secret", nil)
			req.Header.Set("X-Request-Id", "req-1")
			req.RemoteAddr = "192.0.2.7:5555"
			rec := httptest.NewRecorder()
			tt.handler(logger).ServeHTTP(rec, req)

			lines := logLines(t, &buf)
			if len(lines) != 2 {
				t.Fatalf("got %d log lines, want 2:\n%s", len(lines), buf.String())
			}
			if lines[0]["msg"] != "in handler" || lines[0]["request_id"] != "req-1" {
				t.Errorf("handler line lacks request_id: %v", lines[0])
			}
			want := map[string]any{
				"level":      "INFO",
				"msg":        "http request",
				"method":     "GET",
				"pattern":    "GET /users/{id}",
				"path":       "/users/42",
				"status":     float64(202),
				"bytes":      float64(5),
				"request_id": "req-1",
				"remote_ip":  "192.0.2.7",
			}
			for k, v := range want {
				if lines[1][k] != v {
					t.Errorf("%s = %v, want %v", k, lines[1][k], v)
				}
			}
			if _, ok := lines[1]["duration"]; !ok {
				t.Error("no duration")
			}
			if strings.Contains(buf.String(), "secret") {
				t.Error("query string was logged")
			}
		})
	}
}

func TestLoggingUnmatchedAndClientIP(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	cip := ClientIP{TrustedProxies: mustPrefixes(t, "10.0.0.0/8")}
	h := Chain(http.NewServeMux(), cip.Middleware, Logging(logger))

	req := httptest.NewRequest("GET", "/nowhere", nil)
	req.RemoteAddr = "10.1.2.3:80"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), req)

	lines := logLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("got %d lines", len(lines))
	}
	l := lines[0]
	if l["status"] != float64(404) || l["pattern"] != "" || l["remote_ip"] != "203.0.113.9" {
		t.Fatalf("unexpected line: %v", l)
	}
	if _, ok := l["request_id"]; ok {
		t.Fatal("request_id logged without RequestID middleware")
	}
}

func TestLoggerDefault(t *testing.T) {
	if Logger(t.Context()) != slog.Default() {
		t.Fatal("Logger without Logging is not slog.Default()")
	}
}

func TestLoggingHidesLinkTokens(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /invite/{token}", func(w http.ResponseWriter, r *http.Request) {})
	h := Chain(CaptureRoute(mux), Logging(logger))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/invite/s3cr3t-t0ken", nil))
	if strings.Contains(buf.String(), "s3cr3t-t0ken") || !strings.Contains(buf.String(), "path=/invite/{token}") {
		t.Fatalf("log line: %s", buf.String())
	}
}

// TestNearMissLinkPathsHideTheirToken: a link path that just misses its
// route (trailing slash, wrong method, extra segment, doubled slash,
// other case) falls through to the catch-all, yet neither the access log,
// nor a panic's log line, nor the metrics may show its token.
func TestNearMissLinkPathsHideTheirToken(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /invite/{token}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /password/reset/{token}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /email/confirm/{token}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("panic") {
			panic("boom")
		}
		http.NotFound(w, r)
	})
	h := Chain(CaptureRoute(mux), Logging(logger), Recover, NewMetrics(reg).Middleware)
	for _, c := range []struct{ method, path string }{
		{"GET", "/invite/s3cr3t-a/"},
		{"GET", "/invite/s3cr3t-b/extra"},
		{"DELETE", "/invite/s3cr3t-c"},
		{"GET", "/password/reset/s3cr3t-d"}, // wrong method: 405
		{"GET", "/password/reset/s3cr3t-e/"},
		{"GET", "/email/confirm/s3cr3t-f/x/y"},
		{"GET", "//email/confirm/s3cr3t-g"},
		{"GET", "/Invite/s3cr3t-h"},
		{"GET", "/invite/s3cr3t-i/?panic=1"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
	}
	var metrics bytes.Buffer
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	for _, out := range []string{buf.String(), metrics.String()} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("token leaked:\n%s", out)
		}
	}
	if !strings.Contains(buf.String(), "path=/invite/{token}") || !strings.Contains(buf.String(), "path=/email/confirm/{token}") ||
		!strings.Contains(buf.String(), "panic serving request") {
		t.Errorf("redacted paths not logged:\n%s", buf.String())
	}
	for in, want := range map[string]string{"/invite": "/invite", "/invite/": "/invite/", "/users/42": "/users/42", "/invitees/x": "/invitees/x"} {
		if got := RedactPath(in); got != want {
			t.Errorf("RedactPath(%q) = %q, want %q", in, got, want)
		}
	}
}
