package httpx

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
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
			id := RequestIDFrom(ctx)
			// The request's logger is made only if a handler asks for it
			// (errors, mostly): most requests write the access line alone.
			ctx = context.WithValue(ctx, loggerKey{}, &requestLogger{base: logger, id: id})
			if _, ok := ctx.Value(routeKey{}).(*routeHolder); !ok {
				ctx = context.WithValue(ctx, routeKey{}, &routeHolder{})
			}
			r = r.WithContext(ctx)
			sw := NewStatusWriter(w)

			next.ServeHTTP(sw, r)

			route := routeOf(r)
			attrs := [...]slog.Attr{
				slog.String("method", r.Method),
				slog.String("pattern", route),
				slog.String("path", loggedPath(route, r.URL.Path)),
				slog.Int("status", sw.Status()),
				slog.Int64("bytes", sw.Bytes()),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote_ip", RequestIP(r)),
				slog.String("request_id", id),
			}
			n := len(attrs)
			if id == "" {
				n--
			}
			logger.LogAttrs(ctx, slog.LevelInfo, "http request", attrs[:n]...)
		})
	}
}

// requestLogger is a request's logger, carrying its id, made on first use.
type requestLogger struct {
	base *slog.Logger
	id   string
	once sync.Once
	l    *slog.Logger
}

func (rl *requestLogger) logger() *slog.Logger {
	rl.once.Do(func() {
		rl.l = rl.base
		if rl.id != "" {
			rl.l = rl.base.With(slog.String("request_id", rl.id))
		}
	})
	return rl.l
}

// Logger returns the request-scoped logger stored by Logging, or
// slog.Default() outside a logged request.
func Logger(ctx context.Context) *slog.Logger {
	if rl, ok := ctx.Value(loggerKey{}).(*requestLogger); ok {
		return rl.logger()
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

// LinkPrefixes are the path prefixes of the one-time links Roster mails
// (invitation, password reset, email confirmation and undo, unsubscribe): what follows them is a
// secret. A new mailed link route must be listed here.
var LinkPrefixes = []string{"/invite/", "/password/reset/", "/email/confirm/", "/email/undo/", "/unsubscribe/"}

// loggedPath keeps one-time link tokens out of the logs: for a route with a
// {token} wildcard the pattern is logged instead of the path that holds
// the secret, and so is any path under a link prefix whatever matched it
// (a trailing slash, a wrong method or an extra segment falls through to
// the catch-all route but still carries the token).
func loggedPath(route, path string) string {
	if strings.Contains(route, "{token}") {
		if _, p, ok := strings.Cut(route, " "); ok {
			return p
		}
		return route
	}
	return RedactPath(path)
}

// RedactPath replaces everything after a link prefix with "{token}". The
// path is cleaned first, and compared without case, so "//invite/x" or
// "/Invite/x" are caught too.
func RedactPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	clean := strings.ToLower(path.Clean(p))
	for _, prefix := range LinkPrefixes {
		if strings.HasPrefix(clean, prefix) {
			return prefix + "{token}"
		}
	}
	return p
}
