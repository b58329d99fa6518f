package httpx

import (
	"fmt"
	"net/http"
	"net/url"
)

// ContentSecurityPolicy is the policy SecurityHeaders sends. It allows
// only same-origin scripts and styles, so templates must not use inline
// script or style.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; " +
	"form-action 'self'; frame-ancestors 'none'"

// securityHeaders are SecurityHeaders' headers, keys in canonical form.
var securityHeaders = [...]struct {
	key   string
	value []string
}{
	{"Content-Security-Policy", []string{ContentSecurityPolicy}},
	{"Referrer-Policy", []string{"strict-origin-when-cross-origin"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Permissions-Policy", []string{"camera=(), microphone=(), geolocation=()"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
}

var hstsValue = []string{"max-age=31536000"}

// SecurityHeaders sets the browser hardening headers on every response.
// Strict-Transport-Security is sent only when https is true (the
// configured base URL is https), since over plain HTTP it would be
// ignored at best and lock users out at worst. Headers are set before
// next runs, so a handler may still override one (for example a looser
// CSP on an API docs page).
func SecurityHeaders(https bool) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The values are shared slices, assigned rather than Set: a
			// slice each per response was a seventh of what a GET
			// /api/v1/me allocated. Set and Add never write into a slice
			// they were given (Set replaces it, Add appends to a full one);
			// no handler may write into a value's slice itself.
			h := w.Header()
			for _, kv := range securityHeaders {
				h[kv.key] = kv.value
			}
			if https {
				h["Strict-Transport-Security"] = hstsValue
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CSRF protects state-changing requests with the standard library's
// http.CrossOriginProtection: a POST, PUT, PATCH or DELETE that a browser
// marks as cross-site (Sec-Fetch-Site), or whose Origin does not match
// Host, is refused with 403. GET, HEAD and OPTIONS always pass, and so do
// requests carrying neither header (non-browser clients such as API calls
// with a bearer token).
//
// trustedOrigins are origins allowed to post cross-origin, typically the
// configured base URL; a full URL is reduced to its scheme://host[:port]
// and empty entries are ignored. deny, if not nil, replaces the default
// plain-text 403 (so the web UI can render a translated page; it should
// still reply 403).
func CSRF(trustedOrigins []string, deny http.Handler) (Middleware, error) {
	p := http.NewCrossOriginProtection()
	for _, o := range trustedOrigins {
		if o == "" {
			continue
		}
		origin, err := originOf(o)
		if err != nil {
			return nil, fmt.Errorf("csrf trusted origin %q: %w", o, err)
		}
		if err := p.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("csrf trusted origin %q: %w", o, err)
		}
	}
	if deny != nil {
		p.SetDenyHandler(deny)
	}
	return p.Handler, nil
}

func originOf(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("want scheme://host[:port]")
	}
	return u.Scheme + "://" + u.Host, nil
}

// MaxBytes caps request bodies at n bytes with http.MaxBytesReader; a
// handler reading past the cap gets an *http.MaxBytesError and the
// connection is closed after the response.
func MaxBytes(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil {
				// Replaced in place rather than on a copy of r (as
				// http.MaxBytesHandler does), so the pattern the mux writes
				// into r stays visible to Logging and Metrics outside.
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}
