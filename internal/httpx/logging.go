package httpx

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

type loggerKey struct{}

// Logging logs one INFO line per request (method, pattern, path, status,
// bytes, duration, request_id, remote_ip) and puts a logger carrying the
// request id into the context for handlers (see Logger). Put it inside
// RequestID (and ClientIP.Middleware) so both are known, and outside
// Recover so a recovered panic is logged as a 500. The query string is
// not logged: it may carry tokens.
func Logging(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ctx := r.Context()
			l := logger
			id := RequestIDFrom(ctx)
			if id != "" {
				l = l.With(slog.String("request_id", id))
			}
			ctx = context.WithValue(ctx, loggerKey{}, l)
			r = withRoute(r.WithContext(ctx))
			sw := NewStatusWriter(w)

			next.ServeHTTP(sw, r)

			route := routeOf(r)
			l.LogAttrs(ctx, slog.LevelInfo, "http request",
				slog.String("method", r.Method),
				slog.String("pattern", route),
				slog.String("path", loggedPath(route, r.URL.Path)),
				slog.Int("status", sw.Status()),
				slog.Int64("bytes", sw.Bytes()),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote_ip", RequestIP(r)),
			)
		})
	}
}

// Logger returns the request-scoped logger stored by Logging, or
// slog.Default() outside a logged request.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// RequestIP is the client address of r: the one ClientIP.Middleware
// resolved, else the direct peer.
func RequestIP(r *http.Request) string {
	if ip := ClientIPFrom(r.Context()); ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// loggedPath keeps one-time link tokens out of the logs: for a route with a
// {token} wildcard (invitations, email confirmation, password reset) the
// pattern is logged instead of the path that holds the secret.
func loggedPath(route, path string) string {
	if strings.Contains(route, "{token}") {
		if _, p, ok := strings.Cut(route, " "); ok {
			return p
		}
		return route
	}
	return path
}
