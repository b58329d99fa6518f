// Package httpx holds the HTTP middleware and helpers shared by the HTML
// pages (internal/web) and the JSON API (internal/api). Both are mounted on
// one net/http ServeMux using method patterns, so the matched pattern
// (r.Pattern) is the route name used for logs and metrics.
//
// A typical chain, outermost first (CaptureRoute lets Logging and Metrics
// see the matched pattern whatever sits between them and the mux):
//
//	httpx.Chain(httpx.CaptureRoute(mux),
//		httpx.RequestID,
//		clientIP.Middleware,
//		httpx.Logging(logger),
//		httpx.Recover,
//		metrics.Middleware,
//		httpx.SecurityHeaders(https),
//		csrf,
//	)
package httpx

import "net/http"

// Middleware wraps a handler with extra behaviour.
type Middleware func(http.Handler) http.Handler

// Chain wraps h with m. The first middleware listed is the outermost, so it
// sees the request first and the response last. Nil entries are skipped.
func Chain(h http.Handler, m ...Middleware) http.Handler {
	for i := len(m) - 1; i >= 0; i-- {
		if m[i] != nil {
			h = m[i](h)
		}
	}
	return h
}
