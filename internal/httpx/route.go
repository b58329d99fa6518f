package httpx

import (
	"context"
	"net/http"
)

// The ServeMux sets Pattern on the *http.Request it receives. Middleware
// that replaced the request (r.WithContext, a shallow copy) on the way in
// never sees that field, so the pattern is also handed outwards through a
// holder shared by every copy of the context.

type routeKey struct{}

type routeHolder struct{ pattern string }

// withRoute returns r with a route holder in its context, adding one only
// if none is present (so r is not copied needlessly).
func withRoute(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), routeKey{}, &routeHolder{}))
}

// routeOf returns the pattern the mux matched for r, to be called after the
// handler returned. It publishes a pattern it sees to the shared holder and
// otherwise falls back to what an inner layer published there.
func routeOf(r *http.Request) string {
	h, _ := r.Context().Value(routeKey{}).(*routeHolder)
	if r.Pattern != "" {
		if h != nil && h.pattern == "" {
			h.pattern = r.Pattern
		}
		return r.Pattern
	}
	if h != nil {
		return h.pattern
	}
	return ""
}

// CaptureRoute publishes the matched pattern to Logging and Metrics when a
// request-copying middleware sits between them and the mux. Wrap the mux
// itself with it: CaptureRoute(mux). Not needed when Metrics.Middleware
// directly wraps the mux, which does the same.
func CaptureRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		routeOf(r)
	})
}

// Router is what a door's routes are mounted on: an *http.ServeMux, or a
// Recorder around one.
type Router interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Recorder mounts routes on its Router and keeps their patterns, so the
// app can list what it serves (the authorization matrix test walks them).
type Recorder struct {
	Router
	Patterns []string
}

// Handle mounts handler at pattern and records the pattern.
func (r *Recorder) Handle(pattern string, handler http.Handler) {
	r.Patterns = append(r.Patterns, pattern)
	r.Router.Handle(pattern, handler)
}

// HandleFunc mounts handler at pattern and records the pattern.
func (r *Recorder) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	r.Patterns = append(r.Patterns, pattern)
	r.Router.HandleFunc(pattern, handler)
}
