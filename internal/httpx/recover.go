package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover turns a panic in next into a 500 response and an ERROR log line
// with the stack. http.ErrAbortHandler is re-panicked so net/http aborts
// the response quietly, as it intends. Put it inside Logging so the log
// line carries the request id.
func Recover(next http.Handler) http.Handler {
	return RecoverWith(nil)(next)
}

// RecoverWith is Recover with a custom error handler (for example a
// translated error page). A nil handler writes a plain 500.
func RecoverWith(errorHandler http.Handler) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := NewStatusWriter(w)
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				Logger(r.Context()).LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("panic", fmt.Sprint(v)),
					slog.String("method", r.Method),
					slog.String("path", RedactPath(r.URL.Path)),
					slog.String("stack", string(debug.Stack())),
				)
				if sw.Written() {
					// Too late for a status; the client sees a truncated body.
					return
				}
				if errorHandler != nil {
					errorHandler.ServeHTTP(sw, r)
					if sw.Written() {
						return
					}
				}
				http.Error(sw, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}
