package app_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"roster/internal/app"
)

// TestEffectiveDefaults: an App opened with an empty Config (what embedding
// code or a test gets without cmd/roster's flags) runs with the documented
// defaults, compared with literal values.
func TestEffectiveDefaults(t *testing.T) {
	a, err := app.Open(context.Background(), app.Config{DataDir: filepath.Join(t.TempDir(), "data")}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cfg := a.Auth.Config()
	day := 24 * time.Hour
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"session idle", cfg.IdleTimeout, 90 * day},
		{"two-factor idle", cfg.TwoFactorIdle, 30 * day},
		{"session max", cfg.AbsoluteTimeout, 365 * day},
		{"throttle window", cfg.ThrottleWindow, 15 * time.Minute},
		{"failures per account", cfg.AccountFailures, 10},
		{"failures per IP", cfg.IPFailures, 50},
		{"recent sign-in", a.Profiles.RecentSignIn(), 10 * time.Minute},
		{"shutdown timeout", a.Config.ShutdownTimeout, 20 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s defaults to %v, documented %v", c.name, c.got, c.want)
		}
	}
}
