package httpx

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	want := map[string]string{
		"Content-Security-Policy":    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
		"Referrer-Policy":            "strict-origin-when-cross-origin",
		"X-Content-Type-Options":     "nosniff",
		"X-Frame-Options":            "DENY",
		"Permissions-Policy":         "camera=(), microphone=(), geolocation=()",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for _, https := range []bool{false, true} {
		rec := httptest.NewRecorder()
		// Headers arrive on error responses too.
		SecurityHeaders(https)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("https=%v %s = %q, want %q", https, k, got, v)
			}
		}
		hsts := rec.Header().Get("Strict-Transport-Security")
		if https && !strings.HasPrefix(hsts, "max-age=") {
			t.Errorf("https: HSTS = %q", hsts)
		}
		if !https && hsts != "" {
			t.Errorf("http: HSTS sent: %q", hsts)
		}
	}
}

// TestSecurityHeadersSurviveHandlers: the header values are shared between
// responses, so a handler that adds to, sets or deletes one must change
// only its own response. (Writing into a value's slice would change them
// all; nothing in Roster does, nor does net/http.)
func TestSecurityHeadersSurviveHandlers(t *testing.T) {
	meddle := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("X-Frame-Options", "SAMEORIGIN")
		h.Add("Strict-Transport-Security", "preload")
		h.Set("Referrer-Policy", "no-referrer")
		h.Del("X-Content-Type-Options")
	})
	guarded := SecurityHeaders(true)(meddle)
	guarded.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	rec := httptest.NewRecorder()
	SecurityHeaders(true)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "Strict-Transport-Security": "max-age=31536000",
		"Referrer-Policy": "strict-origin-when-cross-origin", "X-Content-Type-Options": "nosniff",
		"Permissions-Policy": "camera=(), microphone=(), geolocation=()"} {
		if got := rec.Header().Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("next response's %s = %q, want [%q]", k, got, v)
		}
	}
}

func TestCSRF(t *testing.T) {
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "custom deny")
	})
	mw, err := CSRF([]string{"https://app.example.com/some/path", ""}, deny)
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))

	tests := []struct {
		name, method, origin, fetchSite string
		want                            int
	}{
		{"cross-origin POST", "POST", "https://evil.example", "cross-site", 403},
		{"cross-origin POST, old browser", "POST", "https://evil.example", "", 403},
		{"cross-origin DELETE", "DELETE", "https://evil.example", "same-site", 403},
		{"same-origin POST", "POST", "https://roster.example", "same-origin", 200},
		{"same-origin POST, old browser", "POST", "https://roster.example", "", 200},
		{"user typed it (none)", "POST", "", "none", 200},
		{"cross-origin GET", "GET", "https://evil.example", "cross-site", 200},
		{"cross-origin HEAD", "HEAD", "https://evil.example", "cross-site", 200},
		{"no browser headers (API client)", "POST", "", "", 200},
		{"trusted origin", "POST", "https://app.example.com", "cross-site", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "https://roster.example/settings", strings.NewReader("a=b"))
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.fetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tt.fetchSite)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d", rec.Code, tt.want)
			}
			if tt.want == 403 && rec.Body.String() != "custom deny" {
				t.Fatalf("deny handler not used: %q", rec.Body.String())
			}
		})
	}
}

func TestCSRFDefaultDenyAndBadOrigin(t *testing.T) {
	mw, err := CSRF(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	mw(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("default deny status = %d", rec.Code)
	}

	for _, bad := range []string{"app.example.com", "https://", "://x"} {
		if _, err := CSRF([]string{bad}, nil); err == nil {
			t.Errorf("CSRF(%q) accepted", bad)
		}
	}
}

func TestMaxBytes(t *testing.T) {
	tests := []struct {
		body    string
		tooLong bool
	}{
		{"12345", false},
		{"123456", true},
	}
	for _, tt := range tests {
		var readErr error
		h := MaxBytes(5)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, readErr = io.ReadAll(r.Body)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(tt.body)))
		var mbe *http.MaxBytesError
		if got := errors.As(readErr, &mbe); got != tt.tooLong {
			t.Errorf("body %q: MaxBytesError = %v, want %v (err %v)", tt.body, got, tt.tooLong, readErr)
		}
	}
}
