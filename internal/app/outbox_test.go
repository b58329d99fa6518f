package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
)

// waitOutbox polls the dev outbox of workspace ws until it holds n mails.
func waitOutbox(t *testing.T, r *running, ws int64, n int) []*core.OutboxMail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mails, err := r.DB.Reader().OutboxMails(context.Background(), ws, 100)
		if err == nil && len(mails) >= n {
			return mails
		}
		if time.Now().After(deadline) {
			t.Fatalf("workspace %d outbox has %d mails, want %d (%v)", ws, len(mails), n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newClient is a fresh browser.
func (r *running) newClient() {
	jar, _ := cookiejar.New(nil)
	r.client = &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// TestDevOutboxStaysInItsWorkspace: mail goes through the real queue into
// the dev outbox; each workspace's admin reads only mail to their own
// workspace's people, as a list and one by one. (The outbox has pages
// only: the API has no outbox route.)
func TestDevOutboxStaysInItsWorkspace(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		r := start(t, engine, app.Config{})
		acme, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		gus, err := r.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Globex", Name: "Gus", Email: "gus@example.com",
			Password: "tangerine-violin", Role: core.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Accounts.Invite(ctx, acme.User, account.InviteInput{Email: "neo@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Accounts.Invite(ctx, gus, account.InviteInput{Email: "zed@example.com"}); err != nil {
			t.Fatal(err)
		}
		mine := waitOutbox(t, r, acme.User.WorkspaceID, 1)[0]
		theirs := waitOutbox(t, r, gus.WorkspaceID, 1)[0]
		if mine.To != "neo@example.com" || theirs.To != "zed@example.com" {
			t.Fatalf("mails recorded for the wrong workspace: %s, %s", mine.To, theirs.To)
		}
		for _, c := range []struct {
			email        string
			own, foreign *core.OutboxMail
		}{{"ana@example.com", mine, theirs}, {"gus@example.com", theirs, mine}} {
			r.newClient()
			if resp, _ := r.post(t, "/login", url.Values{"email": {c.email}, "password": {"tangerine-violin"}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s sign in: %d", c.email, resp.StatusCode)
			}
			resp, body := r.get(t, "/settings/outbox")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, c.own.To) {
				t.Fatalf("%s: outbox %d without own mail", c.email, resp.StatusCode)
			}
			if strings.Contains(body, c.foreign.To) || strings.Contains(body, linkRE.FindString(c.foreign.Text)) {
				t.Errorf("%s reads another workspace's mail (with its invite link)", c.email)
			}
			if resp, _ := r.get(t, fmt.Sprintf("/settings/outbox/%d", c.foreign.ID)); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s opens another workspace's mail: %d", c.email, resp.StatusCode)
			}
			if resp, _ := r.get(t, fmt.Sprintf("/settings/outbox/%d", c.own.ID)); resp.StatusCode != http.StatusOK {
				t.Errorf("%s cannot open own mail: %d", c.email, resp.StatusCode)
			}
		}
	})
}

// syncBuffer is a log destination safe to read while the app writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	mailedLinkRE = regexp.MustCompile(`/(?:invite|password/reset|email/confirm)/([A-Za-z0-9_-]{10,})`)
	mailedCodeRE = regexp.MustCompile(`\b\d{6}\b`)
)

// TestNoSecretInLogs runs every mail flow the app has with the dev outbox
// (invitation, password reset, email change, emailed two-step codes at
// setup and at sign-in, new device, 2FA reset), uses the mailed links,
// also through near-miss paths, and then looks for each mailed code, link
// token and subject, and each session token, challenge and backup code, in
// everything logged: none may appear.
func TestNoSecretInLogs(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger) // the domain logs through the default logger
	t.Cleanup(func() { slog.SetDefault(prev) })
	r := startLogged(t, store.SQLite, app.Config{}, logger)
	var secrets []string // non-mailed secrets seen by the test

	setup, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, setup.Token)
	ws := setup.User.WorkspaceID
	if resp, _ := r.post(t, "/login", url.Values{"email": {"ana@example.com"}, "password": {"tangerine-violin"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	// newMail waits for a mail after mark that satisfies ok: notices of new
	// devices arrive in between.
	mark := func() int64 {
		if ms := waitOutbox(t, r, ws, 0); len(ms) > 0 {
			return ms[0].ID
		}
		return 0
	}
	newMail := func(after int64, ok func(m *core.OutboxMail) bool) *core.OutboxMail {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range waitOutbox(t, r, ws, 0) {
				if m.ID > after && ok(m) {
					return m
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("expected mail did not arrive")
		return nil
	}
	linkTo := func(prefix string) func(m *core.OutboxMail) bool {
		return func(m *core.OutboxMail) bool { return strings.HasPrefix(mailedLinkRE.FindString(m.Text), prefix) }
	}
	hasCode := func(m *core.OutboxMail) bool { return mailedCodeRE.MatchString(m.Subject + " " + m.Text) }
	codeOf := func(m *core.OutboxMail) string { return mailedCodeRE.FindString(m.Subject + " " + m.Text) }
	to := func(addr string) func(m *core.OutboxMail) bool {
		return func(m *core.OutboxMail) bool { return m.To == addr }
	}

	// Invitation, through the page; the invitee follows the link, also by
	// near-miss paths.
	at := mark()
	if resp, _ := r.post(t, "/settings/users/invite", url.Values{"email": {"neo@example.com"}, "role": {"user"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("invite: %d", resp.StatusCode)
	}
	invite := mailedLinkRE.FindString(newMail(at, linkTo("/invite/")).Text)
	r.newClient()
	for _, near := range []string{invite + "/", invite + "/x", invite + "%2F"} {
		r.get(t, near)
	}
	if resp, _ := r.post(t, invite, url.Values{"name": {"Neo"}, "password": {"tangerine-violin"}, "language": {"en"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("accept invite: %d", resp.StatusCode)
	}
	neo, err := r.DB.Reader().UserByEmail(ctx, "neo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Admin password reset link; opened through the page, near misses too.
	at = mark()
	if err := r.Profiles.SendPasswordReset(ctx, setup.User, neo.ID, "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	reset := mailedLinkRE.FindString(newMail(at, linkTo("/password/reset/")).Text)
	r.get(t, reset)
	r.get(t, reset+"/")
	req, _ := http.NewRequest(http.MethodDelete, r.URL+reset, nil)
	if resp, err := r.client.Do(req); err == nil {
		resp.Body.Close()
	}
	at = mark()
	if _, err := r.Profiles.ResetPassword(ctx, strings.TrimPrefix(reset, "/password/reset/"), "violin-tangerine", "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	newMail(at, to("neo@example.com")) // "password changed"
	// Email change: confirmation link (used) and notice.
	at = mark()
	if _, err := r.Profiles.RequestEmailChange(ctx, neo, neo.ID, "neo.new@example.com", "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	confirm := mailedLinkRE.FindString(newMail(at, linkTo("/email/confirm/")).Text)
	newMail(at, to("neo@example.com"))
	r.get(t, confirm+"/")
	if resp, _ := r.get(t, confirm); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm email: %d", resp.StatusCode)
	}
	// Emailed codes on: the setup code, then "two-step verification on".
	login, err := r.signIn(ctx, auth.LoginInput{Email: "neo.new@example.com", Password: "violin-tangerine", Kind: core.SessionWeb, IP: "203.0.113.1", Device: "Firefox · Linux"})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, login.Token)
	p := &auth.Principal{User: login.User, Session: login.Session}
	at = mark()
	if err := r.Security.StartEmail(ctx, p, "violin-tangerine", "", "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	code := codeOf(newMail(at, hasCode))
	at = mark()
	backup, err := r.Security.ConfirmEmail(ctx, p, code, "203.0.113.1")
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, backup...)
	newMail(at, to("neo.new@example.com"))
	// Sign-in through the API from a new device: an emailed code, then a
	// new-device notice.
	api := func(path, body string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, r.URL+"/api/v1"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		out := map[string]any{}
		_ = json.Unmarshal(raw, &out)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
		}
		return out
	}
	at = mark()
	ch := api("/auth/login", `{"email":"neo.new@example.com","password":"violin-tangerine"}`)
	challenge, _ := ch["challenge_id"].(string)
	code = codeOf(newMail(at, hasCode))
	at = mark()
	done := api("/auth/login/verify", fmt.Sprintf(`{"challenge_id":%q,"code":%q}`, challenge, code))
	token, _ := done["token"].(string)
	secrets = append(secrets, challenge, token)
	newMail(at, to("neo.new@example.com")) // new device
	// The admin resets neo's two-step verification.
	admin, err := r.signIn(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", Kind: core.SessionWeb, IP: "203.0.113.1"})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, admin.Token)
	at = mark()
	if err := r.Security.Reset(ctx, &auth.Principal{User: admin.User, Session: admin.Session}, neo.ID, "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	newMail(at, to("neo.new@example.com"))
	mails := waitOutbox(t, r, ws, 10)
	r.shutdown(t)

	out := logs.String()
	if !strings.Contains(out, `"template":"two_factor_code"`) || !strings.Contains(out, `"template":"new_device"`) {
		t.Fatalf("the flows did not all run (no outbox log line for each):\n%s", out)
	}
	kinds := map[string]bool{}
	for _, m := range mails {
		for _, l := range mailedLinkRE.FindAllStringSubmatch(m.Text, -1) {
			secrets = append(secrets, l[1])
			kinds["link"] = true
		}
		for _, c := range mailedCodeRE.FindAllString(m.Subject+" "+m.Text, -1) {
			secrets = append(secrets, c)
			kinds["code"] = true
		}
		secrets = append(secrets, m.Subject)
	}
	if !kinds["link"] || !kinds["code"] || len(mails) < 10 {
		t.Fatalf("expected links and codes in %d mails", len(mails))
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, s) || strings.Contains(line, jsonEscaped(s)) {
				t.Errorf("secret %q in the log: %s", s, line)
			}
		}
	}
}

// jsonEscaped is s as the JSON handler writes it, without the quotes.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
