package httpx

import (
	"context"
	"errors"
	"log/slog"
)

// ClientGone reports whether the request behind ctx was abandoned by its
// client (net/http cancels the context when the connection closes), so a
// failure err is the client's leaving, not a fault of the server.
// Whatever the driver made of the cancellation ("context canceled", an
// interrupted query), the context says what happened.
func ClientGone(ctx context.Context, err error) bool {
	return err != nil && errors.Is(ctx.Err(), context.Canceled)
}

// LogError logs a failed request at ERROR, or at INFO when the client went
// away: that is not an error, and alerting on it is noise.
func LogError(ctx context.Context, l *slog.Logger, msg string, err error, args ...any) {
	level := slog.LevelError
	if ClientGone(ctx, err) {
		level, msg = slog.LevelInfo, msg+": client went away"
	}
	l.Log(ctx, level, msg, append(args, "err", err)...)
}
