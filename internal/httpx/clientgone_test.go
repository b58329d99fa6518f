package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestLogErrorClientGone: a failure because the client went away is logged
// at INFO, not ERROR; real failures stay at ERROR.
func TestLogErrorClientGone(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name  string
		ctx   context.Context
		err   error
		level string
	}{
		{"client went away", gone, fmt.Errorf("load user: %w", context.Canceled), "level=INFO"},
		{"driver's own interruption error", gone, errors.New("interrupted (9)"), "level=INFO"},
		{"real failure", context.Background(), errors.New("disk I/O error"), "level=ERROR"},
		{"canceled inside, client still there", context.Background(), context.Canceled, "level=ERROR"},
	} {
		var buf bytes.Buffer
		LogError(c.ctx, slog.New(slog.NewTextHandler(&buf, nil)), "page failed", c.err, "pattern", "GET /x")
		if !strings.Contains(buf.String(), c.level) || !strings.Contains(buf.String(), "pattern=\"GET /x\"") {
			t.Errorf("%s: %s", c.name, buf.String())
		}
	}
}
