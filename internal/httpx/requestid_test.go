package httpx

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		incoming string
		want     string // "" means a generated id
	}{
		{"none", "", ""},
		{"sane", "abc-123_X.y", "abc-123_X.y"},
		{"max length", strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"too long", strings.Repeat("a", 65), ""},
		{"space", "abc def", ""},
		{"newline", "abc\nINFO fake", ""},
		{"unicode", "ид", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inCtx string
			h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx = RequestIDFrom(r.Context())
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if tt.incoming != "" {
				req.Header.Set("X-Request-Id", tt.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			got := rec.Header().Get("X-Request-Id")
			if got != inCtx {
				t.Fatalf("header %q != context %q", got, inCtx)
			}
			if tt.want != "" && got != tt.want {
				t.Fatalf("id = %q, want %q", got, tt.want)
			}
			if tt.want == "" && !generated.MatchString(got) {
				t.Fatalf("id = %q, want 32 hex digits", got)
			}
		})
	}
}

func TestRequestIDFromEmpty(t *testing.T) {
	if id := RequestIDFrom(t.Context()); id != "" {
		t.Fatalf("RequestIDFrom(empty) = %q", id)
	}
}
