package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/store"
)

func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestVersionAndUsage(t *testing.T) {
	if out, _, err := run(t, "", "version"); err != nil || !strings.HasPrefix(out, "roster ") {
		t.Fatalf("version: %q %v", out, err)
	}
	if _, errOut, err := run(t, "", "frobnicate"); err == nil || !strings.Contains(errOut, "roster serve") {
		t.Fatalf("unknown command: %v %q", err, errOut)
	}
}

func TestServeHelpListsEveryFlagWithItsVariable(t *testing.T) {
	_, help, err := run(t, "", "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	// The names as the README documents them, spelled out: a helper that
	// derived them would agree with itself whatever it produced.
	for flag, env := range map[string]string{
		"addr": "ROSTER_ADDR", "metrics-addr": "ROSTER_METRICS_ADDR", "data": "ROSTER_DATA", "database-url": "ROSTER_DATABASE_URL", "base-url": "ROSTER_BASE_URL",
		"sqlite-synchronous": "ROSTER_SQLITE_SYNCHRONOUS",
		"log-format":         "ROSTER_LOG_FORMAT", "smtp-url": "ROSTER_SMTP_URL", "mail-from": "ROSTER_MAIL_FROM",
		"secret-key": "ROSTER_SECRET_KEY", "trusted-proxies": "ROSTER_TRUSTED_PROXIES", "session-idle": "ROSTER_SESSION_IDLE",
		"session-max": "ROSTER_SESSION_MAX", "two-factor-idle": "ROSTER_TWO_FACTOR_IDLE", "recent-sign-in": "ROSTER_RECENT_SIGN_IN",
		"files-url": "ROSTER_FILES_URL", "api-rate": "ROSTER_API_RATE", "api-burst": "ROSTER_API_BURST",
		"shutdown-timeout": "ROSTER_SHUTDOWN_TIMEOUT", "job-rescue-after": "ROSTER_JOB_RESCUE_AFTER",
		"notification-retention": "ROSTER_NOTIFICATION_RETENTION",
		"fcm-credentials":        "ROSTER_FCM_CREDENTIALS",
		"fcm-endpoint":           "ROSTER_FCM_ENDPOINT",
		"apns-key":               "ROSTER_APNS_KEY",
		"apns-key-id":            "ROSTER_APNS_KEY_ID",
		"apns-team-id":           "ROSTER_APNS_TEAM_ID",
		"apns-topic":             "ROSTER_APNS_TOPIC",
		"apns-environment":       "ROSTER_APNS_ENVIRONMENT",
		"apns-endpoint":          "ROSTER_APNS_ENDPOINT",
		"telegram-bot-token":     "ROSTER_TELEGRAM_BOT_TOKEN", "telegram-api-url": "ROSTER_TELEGRAM_API_URL", "telegram-webhook": "ROSTER_TELEGRAM_WEBHOOK",
		"procs": "ROSTER_PROCS", "gc-percent": "ROSTER_GC_PERCENT",
	} {
		re := regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(flag) + `\b[^\n]*\n(\s{4,}[^\n]*\n)*?\s{4,}[^\n]*\[` + env + `\]`)
		if !re.MatchString(help) {
			t.Errorf("serve --help lacks --%s with [%s]", flag, env)
		}
	}
}

// TestServeDefaultsAreTheDocumentedOnes: with no flags and no ROSTER_*
// variables, serve runs with the defaults of the README's Configuration
// table, compared with literal values.
func TestServeDefaultsAreTheDocumentedOnes(t *testing.T) {
	for _, env := range []string{"ROSTER_ADDR", "ROSTER_METRICS_ADDR", "ROSTER_DATA", "ROSTER_LOG_FORMAT", "ROSTER_SESSION_IDLE", "ROSTER_TWO_FACTOR_IDLE",
		"ROSTER_SESSION_MAX", "ROSTER_RECENT_SIGN_IN", "ROSTER_API_RATE", "ROSTER_API_BURST", "ROSTER_SHUTDOWN_TIMEOUT",
		"ROSTER_JOB_RESCUE_AFTER", "ROSTER_NOTIFICATION_RETENTION", "ROSTER_FCM_CREDENTIALS", "ROSTER_FCM_ENDPOINT", "ROSTER_APNS_KEY",
		"ROSTER_APNS_ENVIRONMENT", "ROSTER_APNS_ENDPOINT", "ROSTER_TELEGRAM_BOT_TOKEN", "ROSTER_TELEGRAM_API_URL",
		"ROSTER_TELEGRAM_WEBHOOK", "ROSTER_SQLITE_SYNCHRONOUS", "ROSTER_PROCS", "ROSTER_GC_PERCENT"} {
		t.Setenv(env, "") // restored when the test ends
		os.Unsetenv(env)
	}
	cfg, proc, err := serveConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"--addr", cfg.Addr, ":8080"},
		{"--metrics-addr", cfg.MetricsAddr, ""},
		{"--data", cfg.DataDir, "./roster-data"},
		{"--sqlite-synchronous", cfg.SQLiteSync, "normal"},
		{"--log-format", proc.logFormat, "text"},
		{"--procs", proc.procs, 0},
		{"--gc-percent", proc.gcPercent, 150},
		{"--session-idle", cfg.SessionIdle, 90 * day},
		{"--two-factor-idle", cfg.TwoFactorIdle, 30 * day},
		{"--session-max", cfg.SessionMax, 365 * day},
		{"--recent-sign-in", cfg.RecentSignIn, 10 * time.Minute},
		{"--api-rate", cfg.APIRate, 7.0},
		{"--api-burst", cfg.APIBurst, 14},
		{"--shutdown-timeout", cfg.ShutdownTimeout, 20 * time.Second},
		{"--job-rescue-after", cfg.JobRescueAfter, 5 * time.Minute},
		{"--notification-retention", cfg.NotificationRetention, 90 * day},
		{"--fcm-credentials", cfg.Mobile.FCMCredentials, ""},
		{"--fcm-endpoint", cfg.Mobile.FCMEndpoint, "https://fcm.googleapis.com"},
		{"--apns-key", cfg.Mobile.APNsKey, ""},
		{"--apns-environment", cfg.Mobile.APNsEnvironment, "production"},
		{"--apns-endpoint", cfg.Mobile.APNsEndpoint, ""},
		{"--telegram-bot-token", cfg.TelegramBotToken, ""},
		{"--telegram-api-url", cfg.TelegramAPIURL, "https://api.telegram.org"},
		{"--telegram-webhook", cfg.TelegramWebhook, false},
	} {
		if c.got != c.want {
			t.Errorf("%s defaults to %v, documented %v", c.name, c.got, c.want)
		}
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("ROSTER_LOG_FORMAT", "json")
	t.Setenv("ROSTER_SESSION_IDLE", "2d")
	t.Setenv("ROSTER_API_BURST", "3")
	// Read without serving, so a variable that is not read cannot leave a
	// server running on the default port.
	cfg, proc, err := serveConfig(nil, io.Discard)
	if err != nil || proc.logFormat != "json" || cfg.SessionIdle != 48*time.Hour || cfg.APIBurst != 3 {
		t.Fatalf("variables not read: log format %q, session idle %v, burst %d, %v", proc.logFormat, cfg.SessionIdle, cfg.APIBurst, err)
	}
	// A flag still wins over its variable.
	if cfg, _, err := serveConfig([]string{"--api-burst", "5"}, io.Discard); err != nil || cfg.APIBurst != 5 {
		t.Fatalf("flag over variable: %d, %v", cfg.APIBurst, err)
	}
	t.Setenv("ROSTER_LOG_FORMAT", "yaml")
	if _, _, err := run(t, "", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "log-format") {
		t.Fatalf("ROSTER_LOG_FORMAT=yaml not refused: %v", err)
	}
}

// TestTelegramTokenNeverInHelp: the bot token set by its variable is read
// but --help does not print it.
func TestTelegramTokenNeverInHelp(t *testing.T) {
	t.Setenv("ROSTER_TELEGRAM_BOT_TOKEN", "123456:very-secret-token")
	t.Setenv("ROSTER_TELEGRAM_WEBHOOK", "true")
	cfg, _, err := serveConfig(nil, io.Discard)
	if err != nil || cfg.TelegramBotToken != "123456:very-secret-token" || !cfg.TelegramWebhook {
		t.Fatalf("variables not read: %q %v %v", cfg.TelegramBotToken, cfg.TelegramWebhook, err)
	}
	if _, help, _ := run(t, "", "serve", "--help"); strings.Contains(help, "very-secret-token") {
		t.Fatal("serve --help shows the bot token")
	}
}

func TestUserAndTokenCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, _, err := run(t, "", "migrate", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "tangerine-violin\n", "user", "create", "--data", data, "--workspace", "Acme", "--name", "Ana", "--email", "Ana@Example.com", "--role", "user")
	if err != nil || !strings.Contains(out, "(admin)") {
		t.Fatalf("first user must be admin: %q %v", out, err)
	}
	out, _, err = run(t, "tangerine-violin\n", "user", "create", "--data", data, "--workspace", "Acme", "--name", "Bo", "--email", "bo@example.com", "--right", "profile-access")
	if err != nil || !strings.Contains(out, "(user)") {
		t.Fatalf("second user: %q %v", out, err)
	}
	if _, _, err := run(t, "123\n", "user", "create", "--data", data, "--workspace", "Acme", "--name", "Cy", "--email", "cy@example.com"); err == nil ||
		!strings.Contains(err.Error(), "password") {
		t.Fatalf("weak password accepted: %v", err)
	}
	if _, _, err := run(t, "", "token", "create", "--data", data, "--email", "bo@example.com", "--name", "x", "--expires", "30d"); err == nil {
		t.Fatal("non-admin got a token")
	}
	if _, _, err := run(t, "", "token", "create", "--data", data, "--email", "ana@example.com", "--name", "x", "--expires", "6y"); err == nil {
		t.Fatal("token beyond 5 years created")
	}
	token, _, err := run(t, "", "token", "create", "--data", data, "--email", "ana@example.com", "--name", "CRM sync", "--expires", "30d")
	token = strings.TrimSpace(token)
	if err != nil || !strings.HasPrefix(token, "rst_") {
		t.Fatalf("token: %q %v", token, err)
	}

	db, err := store.Open(context.Background(), "", data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bo, err := db.Reader().UserByEmail(context.Background(), "bo@example.com")
	if err != nil || !bo.HasRight(core.RightProfileAccess) {
		t.Fatalf("rights not stored: %+v %v", bo, err)
	}
	tokens, _ := db.Reader().WorkspaceAPITokens(context.Background(), bo.WorkspaceID)
	if len(tokens) != 1 || tokens[0].ExpiresAt.Sub(tokens[0].CreatedAt) != 30*24*time.Hour || bytes.Contains(tokens[0].TokenHash, []byte(token)) {
		t.Fatalf("token row: %+v", tokens)
	}
}

// syncBuffer is a bytes.Buffer the server goroutine writes while the test
// reads it.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.writes++
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var runningAddrRE = regexp.MustCompile(`"msg":"roster is running","addr":"(127\.0\.0\.1:\d+)"`)

// TestServeStartsAndStops runs `roster serve` for real on a port the system
// picks and stops it the way SIGTERM does, by cancelling its context.
func TestServeStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var errb syncBuffer
	go func() {
		done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-format", "json"},
			strings.NewReader(""), &bytes.Buffer{}, &errb)
	}()
	// The address actually bound is in the start-up log line.
	var addr string
	deadline := time.Now().Add(30 * time.Second)
	for addr == "" {
		if m := runningAddrRE.FindStringSubmatch(errb.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before it was running: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	const requests = 50
	for range requests {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz on %s: %v %v\n%s", addr, resp, err, errb.String())
		}
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errb.String(), `"msg":"roster is running"`) || !strings.Contains(errb.String(), `"request_id"`) {
		t.Fatalf("json logs:\n%s", errb.String())
	}
	// Every access line is there, written in batches (package logbuf).
	lines := strings.Count(errb.String(), `"path":"/healthz"`)
	if lines < requests || errb.writes > strings.Count(errb.String(), "\n")/2 {
		t.Fatalf("%d requests: %d access lines, the log in %d writes of %d lines", requests, lines, errb.writes, strings.Count(errb.String(), "\n"))
	}
}

// TestGoProcs: serve runs four Go processors per core unless told
// otherwise (--procs, a GOMAXPROCS variable) or under a CPU limit, where
// Go's own choice stands.
func TestGoProcs(t *testing.T) {
	for _, c := range []struct {
		name                   string
		flag                   int
		envSet                 bool
		goDefault, cores, want int
	}{
		{"default", 0, false, 2, 2, 8},
		{"default, 16 cores", 0, false, 16, 16, 64},
		{"--procs", 3, false, 2, 2, 3},
		{"--procs beats the variable", 3, true, 2, 2, 3},
		{"GOMAXPROCS variable", 0, true, 2, 2, 0},
		{"CPU limit", 0, false, 2, 8, 0},
	} {
		if got := goProcs(c.flag, c.envSet, c.goDefault, c.cores); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// TestServeRunsWithItsProcs: a real serve process runs with goProcs'
// choice and a GC target of 150 by default (raised while busy), and with
// --procs and --gc-percent when given, as its own metrics say.
func TestServeRunsWithItsProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs roster")
	}
	dir := t.TempDir()
	bin := buildRoster(t, dir)
	_, envSet := os.LookupEnv("GOMAXPROCS")
	// A GOGC variable (inherited by the child) wins over both.
	gcDefault, gcGiven := 150, 120
	_, gogcSet := os.LookupEnv("GOGC")
	if gogcSet {
		gcDefault = debug.SetGCPercent(-1)
		debug.SetGCPercent(gcDefault)
		gcGiven = gcDefault
	}
	for _, c := range []struct {
		args     []string
		want, gc int
	}{
		{nil, cmp.Or(goProcs(0, envSet, runtime.GOMAXPROCS(0), runtime.NumCPU()), runtime.GOMAXPROCS(0)), gcDefault},
		{[]string{"--procs", "3", "--gc-percent", "120"}, 3, gcGiven},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		metrics := ln.Addr().String()
		ln.Close()
		cmd, addr := serveRoster(t, bin, append([]string{"--data", filepath.Join(dir, "data"), "--metrics-addr", metrics}, c.args...)...)
		// The GC target may be raised for a moment by start-up's garbage
		// (package gcfloor): the base within 10 s.
		want := map[string]int{"go_sched_gomaxprocs_threads": c.want, "go_gc_gogc_percent": c.gc}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			body := metricsText(t, metrics)
			var wrong []string
			for metric, n := range want {
				if line := fmt.Sprintf("\n%s %d\n", metric, n); !strings.Contains(body, line) {
					m := regexp.MustCompile(`\n` + metric + ` \d+`).FindString(body)
					wrong = append(wrong, fmt.Sprintf("%q, want %q", strings.TrimSpace(m), strings.TrimSpace(line)))
				}
			}
			if len(wrong) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("serve %v: %s", c.args, strings.Join(wrong, "; "))
				break
			}
		}
		if c.args == nil && !gogcSet {
			raisedWhileBusy(t, addr, metrics)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func metricsText(t *testing.T, metrics string) string {
	t.Helper()
	res, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// raisedWhileBusy: under load (a fresh server's first page, the set-up
// form, from 8 clients), serve's GC target rises above its base (package
// gcfloor): its heap may grow to the floor first.
func raisedWhileBusy(t *testing.T, addr, metrics string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(done); wg.Wait() }()
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				res, err := client.Get("http://" + addr + "/setup")
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	gogc := regexp.MustCompile(`\ngo_gc_gogc_percent (\d+)\n`)
	last := ""
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if m := gogc.FindStringSubmatch(metricsText(t, metrics)); m != nil {
			last = m[1]
			if n, _ := strconv.Atoi(last); n > 150 {
				return
			}
		}
	}
	t.Errorf("serve under load: GC target still %s after 30 s, want it raised above 150 (gcfloor)", last)
}
