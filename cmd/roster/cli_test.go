package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
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
	for _, flag := range []string{"addr", "metrics-addr", "data", "database-url", "base-url", "log-format", "smtp-url", "mail-from",
		"secret-key", "trusted-proxies", "session-idle", "session-max", "two-factor-idle", "recent-sign-in", "files-url", "api-rate", "api-burst", "shutdown-timeout"} {
		if !strings.Contains(help, "-"+flag) || !strings.Contains(help, envName(flag)) {
			t.Errorf("serve --help lacks --%s or %s", flag, envName(flag))
		}
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("ROSTER_LOG_FORMAT", "yaml")
	if _, _, err := run(t, "", "serve", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "log-format") {
		t.Fatalf("ROSTER_LOG_FORMAT not read: %v", err)
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

// TestServeStartsAndStops runs `roster serve` for real and stops it the way
// SIGTERM does, by cancelling its context.
func TestServeStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var errb bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:18089", "--data", t.TempDir(), "--log-format", "json"},
			strings.NewReader(""), &bytes.Buffer{}, &errb)
	}()
	var resp *http.Response
	var err error
	for range 100 {
		if resp, err = http.Get("http://127.0.0.1:18089/healthz"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("serve did not come up: %v\n%s", err, errb.String())
	}
	resp.Body.Close()
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
}
