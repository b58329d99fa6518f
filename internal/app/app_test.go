package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"roster/internal/auth"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/mail/mailtest"
	"roster/internal/store"
	"roster/internal/testenv"
)

// running is an App serving on a loopback port.
type running struct {
	*app.App
	URL    string
	stop   context.CancelFunc
	done   chan error
	client *http.Client
}

func start(t testing.TB, engine store.Engine, cfg app.Config) *running {
	t.Helper()
	return startLogged(t, engine, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// startLogged is start with the app logging to logger.
func startLogged(t testing.TB, engine store.Engine, cfg app.Config, logger *slog.Logger) *running {
	// engine "" keeps cfg.DatabaseURL as given.
	t.Helper()
	if engine == store.Postgres {
		cfg.DatabaseURL = testenv.FreshPostgres(t)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = "http://" + ln.Addr().String()
	cfg.JobPollInterval = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{App: a, URL: cfg.BaseURL, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx, ln) }()
	jar, _ := cookiejar.New(nil)
	r.client = &http.Client{Jar: jar, Timeout: 20 * time.Second}
	t.Cleanup(func() {
		r.shutdown(t)
		a.Close()
	})
	return r
}

// setupAna sets up the workspace Acme with its admin Ana
// (ana@example.com, zone UTC, language lang) and returns her sign-in.
func setupAna(t testing.TB, r *running, lang string) *auth.LoginResult {
	t.Helper()
	res, err := r.Accounts.Setup(context.Background(), account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com",
		Password: "tangerine-violin", Timezone: "UTC", Language: lang})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (r *running) shutdown(t testing.TB) {
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("server did not shut down")
	}
}

func (r *running) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := r.client.PostForm(r.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (r *running) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := r.client.Get(r.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func each(t *testing.T, fn func(t *testing.T, engine store.Engine)) {
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/invite/[A-Za-z0-9_-]+`)

// TestInviteMailEndToEnd: an admin invites by email through the page; the
// mail job goes through the real queue to a real SMTP server; the test
// follows the link from the received mail and the invitee signs up.
func TestInviteMailEndToEnd(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		smtp := mailtest.NewServer(t)
		r := start(t, engine, app.Config{SMTPURL: smtp.URL(), MailFrom: "roster@example.com"})
		ctx := context.Background()

		resp, _ := r.get(t, "/")
		if !strings.HasSuffix(resp.Request.URL.Path, "/setup") {
			t.Fatalf("fresh install leads to %s, want /setup", resp.Request.URL.Path)
		}
		resp, _ = r.post(t, "/setup", url.Values{"workspace": {"Acme"}, "timezone": {"Europe/Madrid"}, "language": {"es"},
			"name": {"Ana"}, "email": {"ana@example.com"}, "password": {"tangerine-violin"}})
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/settings/profile") {
			t.Fatalf("setup: %d at %s", resp.StatusCode, resp.Request.URL.Path)
		}
		resp, _ = r.post(t, "/settings/users/invite", url.Values{"email": {"neo@example.com"}, "role": {"user"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("invite: %d", resp.StatusCode)
		}
		msgs := smtp.WaitFor(t, 1, 20*time.Second)
		raw := string(msgs[0].Data)
		if msgs[0].To[0] != "neo@example.com" || !strings.Contains(raw, "multipart/alternative") || !strings.Contains(raw, "Content-Language: es") {
			t.Fatalf("invite mail:\n%s", raw)
		}
		link := linkRE.FindString(strings.ReplaceAll(raw, "=\r\n", ""))
		if link == "" {
			t.Fatalf("no invite link in mail:\n%s", raw)
		}
		token := link[strings.LastIndex(link, "/")+1:]

		// The queue stored the mail sealed: the job table never holds the link.
		var leaked int
		if err := r.DB.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM river_job WHERE CAST(args AS TEXT) LIKE '%"+token+"%'").Scan(&leaked); err != nil {
			t.Fatal(err)
		}
		if leaked != 0 {
			t.Fatal("invite token stored in clear in the job table")
		}

		// The invitee opens the link in a fresh browser.
		jar, _ := cookiejar.New(nil)
		r.client = &http.Client{Jar: jar, Timeout: 20 * time.Second}
		resp, body := r.get(t, strings.TrimPrefix(link, r.URL))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "neo@example.com") {
			t.Fatalf("invite page: %d", resp.StatusCode)
		}
		resp, body = r.post(t, strings.TrimPrefix(link, r.URL), url.Values{"name": {"Neo"}, "password": {"tangerine-violin"}, "language": {"en"}})
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/settings/profile") || !strings.Contains(body, "Neo") {
			t.Fatalf("accept invite: %d at %s", resp.StatusCode, resp.Request.URL.Path)
		}
		resp, _ = r.get(t, strings.TrimPrefix(link, r.URL))
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("used invite link: %d, want 404", resp.StatusCode)
		}
	})
}

// TestMailSurvivesRestart: mail enqueued while the SMTP server refuses is
// retried; after a restart on the same database it is still delivered.
func TestMailSurvivesRestart(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		smtp := mailtest.NewServer(t)
		cfg := app.Config{SMTPURL: smtp.URL(), MailFrom: "roster@example.com"}
		if engine == store.Postgres {
			cfg.DatabaseURL = testenv.FreshPostgres(t)
		}
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		a := start(t, "", cfg) // the URL above is reused, so pass no engine
		res, err := a.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		a.shutdown(t) // the queue is stopped: nothing will send
		if _, err := a.Accounts.Invite(ctx, res.User, account.InviteInput{Email: "late@example.com"}); err != nil {
			t.Fatal(err)
		}
		if n := len(smtp.Messages()); n != 0 {
			t.Fatalf("%d mails sent while stopped", n)
		}
		a.Close()
		smtp.FailNext(1, 451) // the first try after restart meets a temporary failure
		start(t, "", cfg)
		msgs := smtp.WaitFor(t, 1, 60*time.Second)
		if msgs[0].To[0] != "late@example.com" {
			t.Fatalf("delivered to %v", msgs[0].To)
		}
	})
}

func TestOperationsEndpoints(t *testing.T) {
	r := start(t, store.SQLite, app.Config{MetricsAddr: "127.0.0.1:0"})
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, body := r.get(t, path); resp.StatusCode != 200 || strings.TrimSpace(body) != "ok" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	r.get(t, "/login")
	// The public listener does not serve /metrics; its own listener does.
	if resp, body := r.get(t, "/metrics"); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "roster_http_requests_total") {
		t.Fatalf("public /metrics: %d", resp.StatusCode)
	}
	resp, err := r.client.Get("http://" + r.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	if resp.StatusCode != 200 || !strings.Contains(body, `roster_http_requests_total{method="GET",route="GET /setup",status="200"}`) ||
		!strings.Contains(body, "roster_http_request_duration_seconds_bucket") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics:\n%s", body)
	}
	if resp, _ := r.get(t, "/healthz"); resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("no request id")
	}
	r.DB.Close()
	if resp, _ := r.get(t, "/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database closed: %d", resp.StatusCode)
	}
}

// TestShutdownDrainsRequests: a request in flight when shutdown starts
// still gets its answer.
func TestShutdownDrainsRequests(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Send the headers and half the body, so the handler is running and
	// waiting for the rest; start shutdown; then finish the body.
	body := `{"email":"a@example.com","password":"tangerine-violin"}`
	head := fmt.Sprintf("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := io.WriteString(conn, head+body[:10]); err != nil {
		t.Fatal(err)
	}
	// The handler is running once the in-flight gauge counts it; shutdown
	// has begun once the listener refuses new connections.
	waitFor(t, "the request to be in flight", func() bool { return gauge(t, r, "roster_http_requests_in_flight") == 1 })
	r.stop()
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 401") {
		t.Fatalf("in-flight request got %q", buf[:n])
	}
	r.stop = func() {}
	if err := <-r.done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r.stop = nil
}

// TestCrossOriginRefused: the server-wide CSRF check refuses a cross-origin
// browser POST; pages get the translated HTML page, the API problem+json.
func TestCrossOriginRefused(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	for path, wantType := range map[string]string{"/login": "text/html", "/api/v1/auth/login": "application/problem+json"} {
		req, _ := http.NewRequest(http.MethodPost, r.URL+path, strings.NewReader(`{}`))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Language", "es")
		resp, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), wantType) {
			t.Fatalf("%s: %d %s\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestAPILanguageFallsBackToWorkspaceDefault: an anonymous API caller without
// a usable Accept-Language gets the default workspace's language.
func TestAPILanguageFallsBackToWorkspaceDefault(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	if _, err := r.Accounts.Setup(context.Background(), account.SetupInput{Workspace: "Acme", Language: "es", Name: "Ana",
		Email: "ana@example.com", Password: "tangerine-violin"}); err != nil {
		t.Fatal(err)
	}
	for accept, want := range map[string]string{"": "Correo electrónico o contraseña incorrectos", "de-DE": "Correo electrónico o contraseña incorrectos", "tr": "E-posta"} {
		req, _ := http.NewRequest(http.MethodPost, r.URL+"/api/v1/auth/login", strings.NewReader(`{"email":"ana@example.com","password":"wrong-password"}`))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), want) {
			t.Fatalf("Accept-Language %q: %d %s", accept, resp.StatusCode, body)
		}
	}
}

var confirmRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/email/confirm/[A-Za-z0-9_-]+`)

// TestEmailChangeThroughDevOutbox: with no SMTP server, the confirmation
// mail goes through the real queue into the dev outbox; following its link
// changes the address, and the old address got a notice.
func TestEmailChangeThroughDevOutbox(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		r := start(t, engine, app.Config{})
		res, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Language: "ru", Name: "Ира",
			Email: "ira@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		ws := &core.Workspace{ID: res.User.WorkspaceID}
		resp, body := r.post(t, "/login", url.Values{"email": {"ira@example.com"}, "password": {"tangerine-violin"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign in: %d %s", resp.StatusCode, body)
		}
		resp, _ = r.post(t, "/settings/profile/email", url.Values{"email": {"ira.new@example.com"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request change: %d", resp.StatusCode)
		}
		// Wait for both mails (a new-device notice may come too).
		var mails []*core.OutboxMail
		var link string
		notified := false
		for deadline := time.Now().Add(20 * time.Second); (link == "" || !notified) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			if mails, err = r.DB.Reader().OutboxMails(ctx, ws.ID, 10); err != nil {
				t.Fatal(err)
			}
			for _, m := range mails {
				if m.To == "ira.new@example.com" {
					link = confirmRE.FindString(m.Text)
				}
				if m.To == "ira@example.com" && m.Lang == "ru" && strings.Contains(m.Text, "ira.new@example.com") {
					notified = true
				}
			}
		}
		if link == "" || !notified {
			t.Fatalf("mails: %+v", mails)
		}
		resp, body = r.get(t, strings.TrimPrefix(link, r.URL))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ira.new@example.com") {
			t.Fatalf("confirm: %d", resp.StatusCode)
		}
		u, err := r.DB.Reader().UserByEmail(ctx, "ira.new@example.com")
		if err != nil || u.Name != "Ира" {
			t.Fatalf("address not changed: %v", err)
		}
	})
}

// TestSetupCountryReadsPhones: the country chosen at setup (offered from
// the browser's region) is the region for phone numbers typed without a
// country code.
func TestSetupCountryReadsPhones(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	req, _ := http.NewRequest(http.MethodGet, r.URL+"/setup", nil)
	req.Header.Set("Accept-Language", "es-MX,es;q=0.9")
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `<option value="MX" selected>México</option>`) {
		t.Fatal("setup does not offer Mexico, in Spanish, for es-MX")
	}
	resp, _ = r.post(t, "/setup", url.Values{"workspace": {"Ventas"}, "timezone": {"America/Mexico_City"}, "language": {"es"},
		"country": {"MX"}, "name": {"Ana"}, "email": {"ana@example.com"}, "password": {"tangerine-violin"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d", resp.StatusCode)
	}
	resp, _ = r.post(t, "/settings/profile", url.Values{"name": {"Ana"}, "phone": {"55 1234 5678"}, "language": {"es"}, "timezone": {"America/Mexico_City"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	u, _ := r.DB.Reader().UserByEmail(context.Background(), "ana@example.com")
	if u.Phone != "+525512345678" {
		t.Fatalf("phone read as %q, want the Mexican +525512345678", u.Phone)
	}
	if _, err := r.Accounts.Setup(context.Background(), account.SetupInput{Workspace: "X", Country: "XX", Name: "B", Email: "b@example.com", Password: "tangerine-violin"}); core.ErrorCode(err) != core.EINVALID {
		t.Fatalf("bad country: %v", err)
	}
}

// TestAllowlistRefusesSignInBeforeASessionExists: a right password from
// outside the allowlist opens no session, writes no "signed in" entry and
// sends no mail, through the page and through the API.
func TestAllowlistRefusesSignInBeforeASessionExists(t *testing.T) {
	ctx := context.Background()
	r := start(t, store.SQLite, app.Config{})
	res, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Security.SetAllowlist(ctx, res.User, "198.51.100.0/24", "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	before, err := r.DB.Reader().UserSessions(ctx, res.User.ID)
	if err != nil || len(before) != 1 { // the setup's own session
		t.Fatalf("sessions before: %d, %v", len(before), err)
	}

	resp, body := r.post(t, "/login", url.Values{"email": {"ana@example.com"}, "password": {"tangerine-violin"}})
	if resp.StatusCode != http.StatusForbidden || len(r.client.Jar.Cookies(resp.Request.URL)) != 0 {
		t.Fatalf("page sign-in from outside: %d\n%s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodPost, r.URL+"/api/v1/auth/login", strings.NewReader(`{"email":"ana@example.com","password":"tangerine-violin"}`))
	req.Header.Set("Content-Type", "application/json")
	apiResp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	apiBody, _ := io.ReadAll(apiResp.Body)
	apiResp.Body.Close()
	if apiResp.StatusCode != http.StatusForbidden || !strings.Contains(string(apiBody), "/api/v1/problems/ip-not-allowed") || strings.Contains(string(apiBody), "token") {
		t.Fatalf("API sign-in from outside: %d %s", apiResp.StatusCode, apiBody)
	}
	after, err := r.DB.Reader().UserSessions(ctx, res.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("a refused sign-in opened a session (%d → %d)", len(before), len(after))
	}
	log, err := r.DB.Reader().AuditLog(ctx, res.User.WorkspaceID, res.User.ID, 50)
	if err != nil || len(log) == 0 {
		t.Fatalf("audit log: %d entries, %v", len(log), err)
	}
	signIns := 0
	for _, e := range log {
		if e.Action == core.AuditSignIn {
			signIns++
		}
	}
	if signIns != 1 { // the setup's own sign-in
		t.Fatalf("%d sign-in entries, want only setup's", signIns)
	}
	if log[0].Action != core.AuditSignInFailed || log[0].Detail != "ip_not_allowed" {
		t.Fatalf("the refusal is not audited: %+v", log[0])
	}
}

// TestMetricsOffByDefault: without MetricsAddr nothing serves /metrics.
func TestMetricsOffByDefault(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	if r.MetricsAddr() != "" {
		t.Fatalf("metrics on %s by default", r.MetricsAddr())
	}
	if resp, body := r.get(t, "/metrics"); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "go_goroutines") {
		t.Fatalf("public /metrics: %d", resp.StatusCode)
	}
}

// TestTrickledBodyIsCut: a client sending a form body a byte at a time has
// its connection closed once the read deadline of forms passes, and one
// trickling its headers once the header deadline does (both shortened
// here; the production defaults are checked in httpx).
func TestTrickledBodyIsCut(t *testing.T) {
	r := start(t, store.SQLite, app.Config{Timeouts: httpx.Timeouts{Read: 300 * time.Millisecond, Write: time.Second, Header: 300 * time.Millisecond}})
	for _, head := range []string{
		// Headers that never end (the server's ReadHeaderTimeout).
		"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\nemail=",
		"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{\"email\":\"",
	} {
		trickle(t, r, head)
	}
}

// trickle sends head, then a byte every 50 ms, and fails unless the server
// closes the connection within 3 seconds: ten times the test's deadlines,
// and well short of the production defaults (header 10 s, forms 20 s), so
// a deadline not taken from the config fails.
func trickle(t *testing.T, r *running, head string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	// Far beyond the deadline: without one the server would wait for the
	// body for ever.
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept reading a trickled body: %.40q", head)
	}
}

// TestRouteClassesAreRoutes: every route with its own deadlines exists, so
// a renamed route cannot silently fall back to the short ones.
func TestRouteClassesAreRoutes(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	for pattern := range app.RouteClasses {
		method, path, _ := strings.Cut(pattern, " ")
		req, _ := http.NewRequest(method, r.URL+strings.ReplaceAll(path, "{id}", "1"), strings.NewReader(""))
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, no such route", pattern, resp.StatusCode)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// gauge reads an unlabelled gauge from the app's registry.
func gauge(t *testing.T, r *running, name string) float64 {
	t.Helper()
	families, err := r.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// signIn signs in a user without two-step verification through the one
// sign-in flow.
func (r *running) signIn(ctx context.Context, in auth.LoginInput) (*auth.LoginResult, error) {
	res, err := r.Security.SignIn(ctx, in)
	if err != nil {
		return nil, err
	}
	if res.LoginResult == nil {
		return nil, fmt.Errorf("sign-in of %s waits for a second step", in.Email)
	}
	return res.LoginResult, nil
}

// TestPprofOnlyWhenAsked: the profiler is served on the metrics listener
// when --pprof is given, never on the public one, and not at all without
// it.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		r := start(t, store.SQLite, app.Config{MetricsAddr: "127.0.0.1:0", Pprof: on})
		res, err := http.Get("http://" + r.MetricsAddr() + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; res.StatusCode != want {
			t.Errorf("pprof %v: /debug/pprof/ on the metrics listener is %d, want %d", on, res.StatusCode, want)
		}
		if resp, _ := r.get(t, "/debug/pprof/"); resp.StatusCode == http.StatusOK {
			t.Errorf("pprof %v: the public listener serves the profiler", on)
		}
	}
}

// TestSlowSignInKeepsItsRequest: sign-ins queued behind one another for
// the password hasher (one slot here) wait longer than the read deadline
// of forms and JSON (shortened to 150 ms); each still gets its answer: the
// read deadline ends with the body, so net/http's background read does not
// cancel a request whose client is waiting.
func TestSlowSignInKeepsItsRequest(t *testing.T) {
	ctx := context.Background()
	r := start(t, store.SQLite, app.Config{Timeouts: httpx.Timeouts{Read: 150 * time.Millisecond, Write: 30 * time.Second},
		AuthConfig: auth.Config{HashConcurrency: 1}, APIRate: 1000, APIBurst: 1000})
	if _, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin", Timezone: "UTC", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	statuses := make(chan int, n)
	for range n {
		go func() {
			res, err := http.Post(r.URL+"/api/v1/auth/login", "application/json", strings.NewReader(`{"email":"ana@example.com","password":"tangerine-violin"}`))
			if err != nil {
				statuses <- 0
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	for range n {
		if s := <-statuses; s != http.StatusOK {
			t.Fatalf("a queued sign-in answered %d", s)
		}
	}
}
