package web

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"html"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/mail/mailtest"
	"roster/internal/notify"
	"roster/internal/profile"
	"roster/internal/security"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// fakeQueue records the mails account.Service enqueues.
type fakeQueue struct {
	mu    sync.Mutex
	mails []queued
}

type queued struct {
	To, Lang, Template string
	Data               map[string]any
}

func (q *fakeQueue) EnqueueTx(_ context.Context, _ *sql.Tx, _ int64, to, lang, tpl string, data map[string]any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.mails = append(q.mails, queued{to, lang, tpl, data})
	return mailtest.Check(tpl, data)
}

func (q *fakeQueue) last(t testing.TB) queued {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.mails) == 0 {
		t.Fatal("no mail was queued")
	}
	return q.mails[len(q.mails)-1]
}

type env struct {
	t        testing.TB
	db       *store.DB
	h        *Handler
	srv      http.Handler
	queue    *fakeQueue
	accounts *account.Service
	auth     *auth.Service
	profiles *profile.Service
	security *security.Service
	notify   *notify.Service
}

// option adjusts the handler's Deps or the services' Config before they
// are built (DB, Mail and BaseURL are set by newEnv).
type option func(*Deps, *services.Config)

func withBaseURL(u string) option {
	return func(d *Deps, _ *services.Config) { d.BaseURL, _ = url.Parse(u) }
}

func withAuthConfig(c auth.Config) option {
	return func(_ *Deps, sc *services.Config) { sc.Auth = c }
}

func withDevOutbox() option { return func(d *Deps, _ *services.Config) { d.DevOutbox = true } }

// newEnv builds the real handler on db, wrapped like the server does with
// security headers and the CSRF protection.
func newEnv(t testing.TB, db *store.DB, opts ...option) *env {
	t.Helper()
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://roster.test")
	d := Deps{I18n: bundle, BaseURL: base, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var sc services.Config
	for _, o := range opts {
		o(&d, &sc)
	}
	e := &env{t: t, db: db, queue: &fakeQueue{}}
	// The services as the app builds them; their links use the pages' base.
	sc.DB, sc.Mail, sc.BaseURL = db, e.queue, d.BaseURL.String()
	set := servicetest.New(t, sc)
	e.auth, e.accounts, e.profiles, e.security = set.Auth, set.Accounts, set.Profiles, set.Security
	d.Auth, d.Accounts, d.Profiles, d.Security, d.Notify = e.auth, e.accounts, e.profiles, e.security, set.Notify
	d.Devices = set.Devices
	d.Push = set.Push
	e.notify = set.Notify
	e.h, err = New(d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	mux.Handle("/", e.h.Fallback(mux)) // as the app mounts it
	csrf, err := httpx.CSRF(nil, e.h.CSRFDenied())
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httpx.Chain(mux, httpx.SecurityHeaders(d.BaseURL.Scheme == "https"), csrf)
	return e
}

// req describes one request.
type req struct {
	method, path string
	form         url.Values
	cookie       string
	header       map[string]string
	remote       string // RemoteAddr, "ip:port"; httptest's 192.0.2.1:1234 when empty
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: auth.CookieName, Value: r.cookie})
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, hr)
	return w
}

func (e *env) get(path, cookie string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{method: "GET", path: path, cookie: cookie})
}

func (e *env) post(path, cookie string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return e.do(req{method: "POST", path: path, cookie: cookie, form: form})
}

const password = "correct horse battery"

// setup creates the workspace "Acme" and its admin, returning the admin.
func (e *env) setup(lang string) *core.User {
	e.t.Helper()
	res, err := e.accounts.Setup(context.Background(), account.SetupInput{Workspace: "Acme", Timezone: "Europe/Madrid",
		Language: lang, Name: "Ada Admin", Email: "ada@acme.test", Password: password})
	if err != nil {
		e.t.Fatalf("setup: %v", err)
	}
	return res.User
}

func (e *env) createUser(workspace, name, email string, role core.Role, rights ...core.Right) *core.User {
	e.t.Helper()
	u, err := e.accounts.CreateUser(context.Background(), account.CreateUserInput{Workspace: workspace, Name: name,
		Email: email, Password: password, Role: role, Rights: rights})
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

func (e *env) update(u *core.User, change func(*core.User)) {
	e.t.Helper()
	got, err := e.db.Reader().User(context.Background(), u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	change(got)
	if err := e.db.Writer().UpdateUser(context.Background(), got); err != nil {
		e.t.Fatal(err)
	}
}

// login signs in through the page and returns the session cookie.
func (e *env) login(email string) string {
	e.t.Helper()
	w := e.post("/login", "", url.Values{"email": {email}, "password": {password}})
	if w.Code != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d: %s", email, w.Code, alertText(w.Body.String()))
	}
	c := sessionCookie(w)
	if c == nil || c.Value == "" {
		e.t.Fatalf("login %s: no session cookie", email)
	}
	return c.Value
}

func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == auth.CookieName {
			return c
		}
	}
	return nil
}

var alertRE = regexp.MustCompile(`(?s)<div class="alert alert-error" role="alert">(.*?)</div>`)

// alertText returns the main error message of a page, unescaped.
func alertText(body string) string {
	m := alertRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func wantStatus(t testing.TB, w *httptest.ResponseRecorder, want int) {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status %d, want %d; location %q; body: %.600s", w.Code, want, w.Header().Get("Location"), w.Body.String())
	}
}

func wantRedirect(t testing.TB, w *httptest.ResponseRecorder, status int, location string) {
	t.Helper()
	wantStatus(t, w, status)
	if got := w.Header().Get("Location"); got != location {
		t.Fatalf("Location %q, want %q", got, location)
	}
}

func wantContains(t testing.TB, w *httptest.ResponseRecorder, subs ...string) {
	t.Helper()
	body := html.UnescapeString(w.Body.String())
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q; body: %.1500s", s, body)
		}
	}
}

func wantNotContains(t testing.TB, w *httptest.ResponseRecorder, subs ...string) {
	t.Helper()
	body := html.UnescapeString(w.Body.String())
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("body unexpectedly contains %q", s)
		}
	}
}

func TestSetupFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		wantRedirect(t, e.get("/", ""), http.StatusFound, "/setup")
		wantRedirect(t, e.get("/login", ""), http.StatusFound, "/setup")

		w := e.get("/setup", "")
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `<option value="UTC" selected>UTC</option>`, `<option value="ru">Русский</option>`, "Europe/Moscow")

		// Invalid input re-renders the form with per-field messages and
		// keeps what was typed, except the password.
		bad := url.Values{"workspace": {"Acme"}, "timezone": {"Mars/Base"}, "language": {"en"}, "name": {""},
			"email": {"not-an-email"}, "password": {"short"}}
		w = e.post("/setup", "", bad)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Please correct the highlighted fields.", "Choose a valid time zone.",
			"Enter a valid email address.", "Must be at least 8 characters.", `value="not-an-email"`)
		wantNotContains(t, w, `value="short"`)

		good := url.Values{"workspace": {"Acme"}, "timezone": {"Asia/Jakarta"}, "language": {"id"}, "name": {"Ada Admin"},
			"email": {"ada@acme.test"}, "password": {password}}
		w = e.post("/setup", "", good)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile")
		c := sessionCookie(w)
		if c == nil {
			t.Fatal("setup set no session cookie")
		}
		w = e.get("/settings/profile", c.Value)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Ada Admin", "ada@acme.test", "Asia/Jakarta", `<html lang="id">`)

		// Setup is refused once done.
		wantRedirect(t, e.get("/setup", ""), http.StatusSeeOther, "/login")
		wantRedirect(t, e.post("/setup", "", good), http.StatusSeeOther, "/login")
		if n, _ := db.Reader().CountWorkspaces(context.Background()); n != 1 {
			t.Errorf("%d workspaces after a second setup, want 1", n)
		}
		wantRedirect(t, e.get("/", ""), http.StatusFound, "/login")
		wantRedirect(t, e.get("/", c.Value), http.StatusFound, "/settings/profile")
	})
}

func TestSignInCookie(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		w := e.post("/login", "", url.Values{"email": {"ADA@acme.test"}, "password": {password}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile")
		c := sessionCookie(w)
		if c == nil {
			t.Fatal("no session cookie")
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Lax, /, not Secure on http",
				c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
		if c.Expires.Before(time.Now().Add(24 * time.Hour)) {
			t.Errorf("cookie expires %v, want the session's absolute expiry", c.Expires)
		}
		// The recorded device comes from the User-Agent.
		w2 := e.do(req{method: "POST", path: "/login", form: url.Values{"email": {"ada@acme.test"}, "password": {password}},
			header: map[string]string{"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}})
		c2 := sessionCookie(w2)
		if c2 == nil || c2.Value == c.Value {
			t.Fatal("second sign-in must issue a new token")
		}
		w = e.get("/settings/security", c2.Value)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Chrome · Windows", "This device", "Unknown device", "192.0.2.1")
		if strings.Count(w.Body.String(), "This device") != 1 {
			t.Error("exactly one session must be marked as this device")
		}

		// A safe local next is followed; another site is not.
		w = e.post("/login", "", url.Values{"email": {"ada@acme.test"}, "password": {password}, "next": {"/settings/security"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security")
		for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
			w = e.post("/login", "", url.Values{"email": {"ada@acme.test"}, "password": {password}, "next": {next}})
			wantRedirect(t, w, http.StatusSeeOther, "/settings/profile")
		}

		// Signing out ends the session and clears the cookie.
		w = e.post("/logout", c.Value, nil)
		wantRedirect(t, w, http.StatusSeeOther, "/login")
		if cl := sessionCookie(w); cl == nil || cl.MaxAge >= 0 {
			t.Error("logout must clear the cookie")
		}
		wantStatus(t, e.get("/settings/profile", c.Value), http.StatusFound)
		wantStatus(t, e.get("/settings/profile", c2.Value), http.StatusOK)
	})
}

func TestSecureCookieOnHTTPS(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), withBaseURL("https://roster.example"))
	e.setup("en")
	w := e.post("/login", "", url.Values{"email": {"ada@acme.test"}, "password": {password}})
	c := sessionCookie(w)
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v, want Secure, HttpOnly, Lax", c)
	}
	if w.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header on https")
	}
}

func TestWrongPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		known := e.post("/login", "", url.Values{"email": {"ada@acme.test"}, "password": {"wrong password"}})
		unknown := e.post("/login", "", url.Values{"email": {"nobody@acme.test"}, "password": {"wrong password"}})
		wantStatus(t, known, http.StatusUnauthorized)
		wantStatus(t, unknown, http.StatusUnauthorized)
		mk, mu := alertText(known.Body.String()), alertText(unknown.Body.String())
		if mk == "" || mk != mu {
			t.Errorf("messages differ or are empty: known %q, unknown %q", mk, mu)
		}
		if mk != "Incorrect email or password." {
			t.Errorf("message %q", mk)
		}
		// Apart from the echoed email, the pages are identical.
		a := strings.ReplaceAll(known.Body.String(), "ada@acme.test", "X")
		b := strings.ReplaceAll(unknown.Body.String(), "nobody@acme.test", "X")
		if a != b {
			t.Error("failure pages differ beyond the echoed email")
		}
		wantContains(t, known, `value="ada@acme.test"`)
		wantNotContains(t, known, "wrong password")
		if sessionCookie(known) != nil {
			t.Error("failed sign-in set a cookie")
		}
	})
}

func TestThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withAuthConfig(auth.Config{AccountFailures: 3}))
		e.setup("en")
		bad := url.Values{"email": {"ada@acme.test"}, "password": {"wrong password"}}
		for i := range 3 {
			wantStatus(t, e.post("/login", "", bad), http.StatusUnauthorized)
			_ = i
		}
		w := e.post("/login", "", bad)
		wantStatus(t, w, http.StatusTooManyRequests)
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 || secs > 15*60 {
			t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
		}
		want := fmt.Sprintf("Too many attempts. Try again in %d seconds.", secs)
		if got := alertText(w.Body.String()); got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		// Even the right password is refused while throttled.
		wantStatus(t, e.post("/login", "", url.Values{"email": {"ada@acme.test"}, "password": {password}}), http.StatusTooManyRequests)

		// Russian gets the right plural form.
		w = e.do(req{method: "POST", path: "/login", form: bad, header: map[string]string{"Accept-Language": "ru"}})
		wantStatus(t, w, http.StatusTooManyRequests)
		secs, _ = strconv.Atoi(w.Header().Get("Retry-After"))
		if got, want := alertText(w.Body.String()), e.h.loc("ru").N("errors.too_many_requests", secs); got != want || !strings.Contains(got, "Слишком много попыток") {
			t.Errorf("ru message %q, want %q", got, want)
		}
	})
}

func TestDeactivatedUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobCookie := e.login("bob@acme.test")
		wantStatus(t, e.get("/settings/profile", bobCookie), http.StatusOK)

		w := e.post(fmt.Sprintf("/settings/users/%d/deactivate", bob.ID), admin, url.Values{"page": {"1"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/users?done=deactivated")
		wantContains(t, e.get("/settings/users?done=deactivated", admin), "User deactivated.")

		// Bob's existing session stops working, and he cannot sign in again.
		w = e.get("/settings/profile", bobCookie)
		wantRedirect(t, w, http.StatusFound, "/login?next=%2Fsettings%2Fprofile")
		w = e.post("/login", "", url.Values{"email": {"bob@acme.test"}, "password": {password}})
		wantStatus(t, w, http.StatusUnauthorized)
		if got := alertText(w.Body.String()); got != "Incorrect email or password." {
			t.Errorf("inactive sign-in message %q", got)
		}

		wantRedirect(t, e.post(fmt.Sprintf("/settings/users/%d/reactivate", bob.ID), admin, nil),
			http.StatusSeeOther, "/settings/users?done=reactivated")
		e.login("bob@acme.test")
	})
}

func TestLastAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		w := e.post(fmt.Sprintf("/settings/users/%d/access", ada.ID), admin, url.Values{"role": {"user"}})
		wantStatus(t, w, http.StatusConflict)
		if got := alertText(w.Body.String()); got != "At least one active admin must remain in the workspace." {
			t.Errorf("demote message %q", got)
		}
		wantContains(t, w, "Ada Admin") // the users page is shown again
		w = e.post(fmt.Sprintf("/settings/users/%d/deactivate", ada.ID), admin, nil)
		wantStatus(t, w, http.StatusConflict)
		wantContains(t, w, "At least one active admin must remain")
		u, _ := db.Reader().User(context.Background(), ada.ID)
		if u.Role != core.RoleAdmin || u.State != core.StateActive {
			t.Errorf("last admin changed: %s %s", u.Role, u.State)
		}

		// With a second admin, the change goes through.
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		w = e.post(fmt.Sprintf("/settings/users/%d/access", bob.ID), admin, url.Values{"role": {"admin"}, "rights": {"profile-access"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/users?done=access")
		u, _ = db.Reader().User(context.Background(), bob.ID)
		if u.Role != core.RoleAdmin || !u.HasRight(core.RightProfileAccess) {
			t.Errorf("bob = %s %v", u.Role, u.Rights)
		}
		// An invalid role is a field error with 422.
		w = e.post(fmt.Sprintf("/settings/users/%d/access", bob.ID), admin, url.Values{"role": {"owner"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Please correct the highlighted fields.")
	})
}

var linkRE = regexp.MustCompile(`/invite/([A-Za-z0-9_-]+)$`)

func TestInviteFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")

		// Field errors come back on the users page.
		w := e.post("/settings/users/invite", admin, url.Values{"email": {"nope"}, "role": {"user"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter a valid email address.", `value="nope"`)

		w = e.post("/settings/users/invite", admin, url.Values{"email": {"Carol@Acme.test"}, "role": {"user"}, "rights": {"profile-access"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/users?done=invited")
		w = e.get("/settings/users?done=invited", admin)
		wantContains(t, w, "Invitation sent.", "Pending invitations", "carol@acme.test")

		m := e.queue.last(t)
		if m.To != "carol@acme.test" || m.Template != "invite" {
			t.Fatalf("queued %+v", m)
		}
		link, _ := m.Data["Link"].(string)
		match := linkRE.FindStringSubmatch(link)
		if match == nil || !strings.HasPrefix(link, "http://roster.test/invite/") {
			t.Fatalf("link %q", link)
		}
		path := "/invite/" + match[1]

		w = e.get(path, "")
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Acme", "carol@acme.test")

		w = e.post(path, "", url.Values{"name": {""}, "password": {password}, "language": {"es"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter a name of 1 to 50 characters")

		w = e.post(path, "", url.Values{"name": {"Carol Chen"}, "password": {password}, "language": {"es"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile")
		c := sessionCookie(w)
		if c == nil {
			t.Fatal("accepting the invite did not sign in")
		}
		w = e.get("/settings/profile", c.Value)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Carol Chen", `<html lang="es">`, "Acceso a perfiles")

		// The link is single-use.
		w = e.get(path, "")
		wantStatus(t, w, http.StatusNotFound)
		wantContains(t, w, "This invitation link is invalid, expired or already used.")
		wantStatus(t, e.post(path, "", url.Values{"name": {"Mallory"}, "password": {password}}), http.StatusNotFound)

		// An expired link is a 404 too.
		wantRedirect(t, e.post("/settings/users/invite", admin, url.Values{"email": {"dan@acme.test"}, "role": {"user"}}),
			http.StatusSeeOther, "/settings/users?done=invited")
		link, _ = e.queue.last(t).Data["Link"].(string)
		path = "/invite/" + linkRE.FindStringSubmatch(link)[1]
		wantStatus(t, e.get(path, ""), http.StatusOK)
		db.SetClock(func() time.Time { return time.Now().Add(account.InviteTTL + time.Hour) })
		w = e.get(path, "")
		wantStatus(t, w, http.StatusNotFound)
		wantContains(t, w, "This invitation link is invalid, expired or already used.")
		wantStatus(t, e.get("/invite/not-a-token", ""), http.StatusNotFound)
	})
}

func TestUsersPageAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bob := e.login("bob@acme.test")
		foreign := e.createUser("Other Co", "Olga Other", "olga@other.test", core.RoleAdmin)
		e.createUser("Acme", "Cleo Clerk", "cleo@acme.test", core.RoleUser) // never signed in

		w := e.get("/settings/users", bob)
		wantStatus(t, w, http.StatusForbidden)
		wantContains(t, w, "You do not have permission to do that.")
		wantStatus(t, e.get(fmt.Sprintf("/settings/users/%d", ada.ID), bob), http.StatusForbidden)
		wantStatus(t, e.post("/settings/users/invite", bob, url.Values{"email": {"x@acme.test"}}), http.StatusForbidden)
		wantStatus(t, e.get("/settings/tokens", bob), http.StatusForbidden)
		// Plain users do not see the admin navigation.
		w = e.get("/settings/profile", bob)
		wantNotContains(t, w, `href="/settings/users"`, `href="/settings/tokens"`)

		wantStatus(t, e.get(fmt.Sprintf("/settings/users/%d", foreign.ID), admin), http.StatusNotFound)
		wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d/deactivate", foreign.ID), admin, nil), http.StatusNotFound)
		wantStatus(t, e.get("/settings/users/abc", admin), http.StatusNotFound)

		w = e.get("/settings/users", admin)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "3 users", "Two-step verification", "Bob Builder", "Never", `class="active" aria-current="page">`+iconHTML(t, e.h, "users")+`<span>Users</span>`)
		wantNotContains(t, w, "Olga Other")
	})
}

func TestUsersPagination(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ada := e.setup("en")
	admin := e.login("ada@acme.test")
	for i := range 54 {
		u := &core.User{WorkspaceID: ada.WorkspaceID, Name: fmt.Sprintf("User %02d", i), Email: fmt.Sprintf("u%02d@acme.test", i),
			PasswordHash: "x", Role: core.RoleUser, State: core.StateActive, Language: "en", Timezone: "UTC"}
		if err := e.db.Writer().CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	w := e.get("/settings/users", admin)
	wantContains(t, w, "55 users", "Page 1 of 2", `href="/settings/users?page=2"`, "User 48")
	wantNotContains(t, w, "User 49")
	w = e.get("/settings/users?page=2", admin)
	wantContains(t, w, "Page 2 of 2", "User 49", "User 53", `href="/settings/users?page=1"`)
	wantNotContains(t, w, "User 00")
}

func TestCrossOriginPostRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		w := e.do(req{method: "POST", path: "/login", form: url.Values{"email": {"ada@acme.test"}, "password": {password}},
			header: map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Accept-Language": "tr"}})
		wantStatus(t, w, http.StatusForbidden)
		if sessionCookie(w) != nil {
			t.Error("cross-origin sign-in set a cookie")
		}
		if got, want := alertText(w.Body.String()), e.h.loc("tr").T("web.error.csrf"); got != want {
			t.Errorf("CSRF page message %q, want %q", got, want)
		}
	})
}

var (
	inlineStyleRE  = regexp.MustCompile(`(?i)\sstyle\s*=|<style`)
	inlineScriptRE = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`)
)

// checkNoInline fails when a page has inline styles or scripts the CSP
// would block.
func checkNoInline(t *testing.T, name string, body string) {
	t.Helper()
	if inlineStyleRE.MatchString(body) {
		t.Errorf("%s has an inline style", name)
	}
	for _, tag := range inlineScriptRE.FindAllString(body, -1) {
		if !strings.Contains(tag, "src=") {
			t.Errorf("%s has an inline script %s", name, tag)
		}
	}
	if strings.Contains(body, "onclick=") || strings.Contains(body, "onsubmit=") {
		t.Errorf("%s has an inline event handler", name)
	}
}

func TestSecurityHeadersAndNoInlineCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withDevOutbox())
		w := e.get("/setup", "")
		checkNoInline(t, "/setup", w.Body.String())
		e.setup("en")
		admin := e.login("ada@acme.test")
		e.post("/settings/users/invite", admin, url.Values{"email": {"eve@acme.test"}})
		pages := []string{"/login", "/settings/profile", "/settings/security", "/settings/notifications",
			"/settings/users", "/settings/tokens", "/settings/outbox", "/nope-404"}
		for _, p := range pages {
			cookie := admin
			if p == "/login" {
				cookie = ""
			}
			w := e.get(p, cookie)
			if p != "/nope-404" {
				wantStatus(t, w, http.StatusOK)
			}
			if got := w.Header().Get("Content-Security-Policy"); got != httpx.ContentSecurityPolicy {
				t.Errorf("%s CSP %q", p, got)
			}
			for _, hd := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if w.Header().Get(hd) == "" {
					t.Errorf("%s lacks %s", p, hd)
				}
			}
			if p != "/nope-404" {
				checkNoInline(t, p, w.Body.String())
				wantContains(t, w, `<html lang="en">`, e.h.StaticURL("app.css"))
			}
		}
		w = e.post("/settings/tokens", admin, url.Values{"name": {"CI"}, "expires": {"30d"}})
		checkNoInline(t, "token created", w.Body.String())
	})
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	u := e.h.StaticURL("app.css")
	if !regexp.MustCompile(`^/static/app\.[0-9a-f]{8}\.css$`).MatchString(u) {
		t.Fatalf("StaticURL(app.css) = %q", u)
	}
	w := e.get(u, "")
	wantStatus(t, w, http.StatusOK)
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control %q", got)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(w.Body.String(), ".avatar-7") {
		t.Error("stylesheet lacks the avatar colours")
	}
	if js := e.h.StaticURL("app.js"); !regexp.MustCompile(`^/static/app\.[0-9a-f]{8}\.js$`).MatchString(js) {
		t.Errorf("StaticURL(app.js) = %q", js)
	}
	wantStatus(t, e.get("/static/app.00000000.css", ""), http.StatusNotFound)
	wantStatus(t, e.get("/static/app.css", ""), http.StatusNotFound)
}

func TestLanguages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("es")
		w := e.do(req{method: "GET", path: "/login", header: map[string]string{"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `<html lang="ru">`, "Войти", "Эл. почта")

		// Without a usable browser preference, the workspace default wins.
		w = e.do(req{method: "GET", path: "/login", header: map[string]string{"Accept-Language": "de"}})
		wantContains(t, w, `<html lang="es">`, "Iniciar sesión")

		// A signed-in person sees their own language, whatever the browser says.
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Language = "tr" })
		c := e.login("bob@acme.test")
		w = e.do(req{method: "GET", path: "/settings/profile", cookie: c, header: map[string]string{"Accept-Language": "ru"}})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `<html lang="tr">`, "Profil ayarları", "Oturumu kapat", "Türkçe")
		// 404s speak it too.
		w = e.do(req{method: "GET", path: "/settings/users/999999", cookie: c})
		wantStatus(t, w, http.StatusNotFound)
		wantContains(t, w, `<html lang="tr">`, "Sayfa bulunamadı")
	})
}

func TestProfileNoteVisibility(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Note = "Prefers calls after 10am"; u.Phone = "+34612345678" })
		cleo := e.createUser("Acme", "Cleo Clerk", "cleo@acme.test", core.RoleUser, core.RightProfileAccess)
		e.update(cleo, func(u *core.User) { u.Note = "Cleo's private note" })
		e.update(ada, func(u *core.User) { u.Note = "Founder" })

		bobC := e.login("bob@acme.test")
		w := e.get("/settings/profile", bobC)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Bob Builder", `value="+34 612 34 56 78"`, "English", "Off")
		wantNotContains(t, w, "Prefers calls after 10am", ">Note<")

		cleoC := e.login("cleo@acme.test")
		w = e.get("/settings/profile", cleoC)
		wantContains(t, w, "Cleo's private note", "Profile access")
		w = e.get(fmt.Sprintf("/settings/users/%d", bob.ID), cleoC)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Prefers calls after 10am")
		wantStatus(t, e.get("/settings/users", cleoC), http.StatusOK)

		w = e.get(fmt.Sprintf("/settings/users/%d", bob.ID), admin)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Prefers calls after 10am", "Bob Builder")
		wantContains(t, e.get("/settings/profile", admin), "Founder", "Europe/Madrid", "Admin")
	})
}

func TestSignedOutAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		wantRedirect(t, e.get("/settings/users?page=2", ""), http.StatusFound, "/login?next=%2Fsettings%2Fusers%3Fpage%3D2")
		w := e.post("/settings/users/invite", "", url.Values{"email": {"x@acme.test"}})
		wantStatus(t, w, http.StatusUnauthorized)
		wantContains(t, w, "Please sign in.")
		wantStatus(t, e.get("/settings/profile", "garbage-token"), http.StatusFound)
		w = e.get("/login?next=%2Fsettings%2Fusers", "")
		wantContains(t, w, `name="next" value="/settings/users"`)
	})
}

func TestAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		w := e.post("/settings/tokens", admin, url.Values{"name": {""}, "expires": {"30d"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter a name of 1 to 50 characters")

		w = e.post("/settings/tokens", admin, url.Values{"name": {"CI pipeline"}, "expires": {"7d"}})
		wantStatus(t, w, http.StatusOK)
		secret := regexp.MustCompile(`<code id="token-secret" class="secret">(rst_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(w.Body.String())
		if secret == nil {
			t.Fatalf("secret not shown: %.2000s", w.Body.String())
		}
		p, err := e.auth.Authenticate(context.Background(), secret[1], "")
		if err != nil || p.Token == nil {
			t.Fatalf("shown secret does not authenticate: %v", err)
		}
		// The secret is shown once only, and cannot open pages as a cookie.
		w = e.get("/settings/tokens", admin)
		wantContains(t, w, "CI pipeline", "Active")
		if strings.Contains(w.Body.String(), secret[1]) {
			t.Error("secret shown again")
		}
		wantStatus(t, e.get("/settings/profile", secret[1]), http.StatusFound)

		wantRedirect(t, e.post(fmt.Sprintf("/settings/tokens/%d/revoke", p.Token.ID), admin, nil), http.StatusSeeOther, "/settings/tokens?done=revoked")
		wantContains(t, e.get("/settings/tokens?done=revoked", admin), "Token revoked.", "Revoked ")
		if _, err := e.auth.Authenticate(context.Background(), secret[1], ""); err == nil {
			t.Error("revoked token still works")
		}
	})
}

func TestDevOutbox(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	off := newEnv(t, db)
	ada := off.setup("en")
	admin := off.login("ada@acme.test")
	wantStatus(t, off.get("/settings/outbox", admin), http.StatusNotFound)
	wantNotContains(t, off.get("/settings/profile", admin), "/settings/outbox")

	on := newEnv(t, db, withDevOutbox())
	m := &core.OutboxMail{WorkspaceID: ada.WorkspaceID, To: "carol@acme.test", Subject: "Join Acme", Text: "Open https://roster.test/invite/abc.\n<b>bold</b>",
		HTML: "<p>Hello</p><script>alert(1)</script>", Lang: "en", CreatedAt: time.Now()}
	if err := db.Writer().SaveOutboxMail(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	// Another workspace's mail, and mail kept before workspaces were
	// recorded, are not shown to this admin, as a list or one by one.
	gus := on.createUser("Globex", "Gus", "gus@globex.test", core.RoleAdmin)
	other := &core.OutboxMail{WorkspaceID: gus.WorkspaceID, To: "zed@globex.test", Subject: "Reset Globex", Text: "https://roster.test/password/reset/globexsecret",
		HTML: "<p>globex</p>", Lang: "en", CreatedAt: time.Now()}
	orphan := &core.OutboxMail{To: "old@acme.test", Subject: "Old", Text: "https://roster.test/invite/orphansecret", HTML: "<p>old</p>", Lang: "en"}
	for _, om := range []*core.OutboxMail{other, orphan} {
		if err := db.Writer().SaveOutboxMail(context.Background(), om); err != nil {
			t.Fatal(err)
		}
	}
	w := on.get("/settings/outbox", admin)
	wantStatus(t, w, http.StatusOK)
	body := w.Body.String()
	if strings.Contains(body, "globexsecret") || strings.Contains(body, "zed@globex.test") || strings.Contains(body, "orphansecret") {
		t.Errorf("outbox shows mail of another workspace: %.3000s", body)
	}
	for _, om := range []*core.OutboxMail{other, orphan} {
		wantStatus(t, on.get(fmt.Sprintf("/settings/outbox/%d", om.ID), admin), http.StatusNotFound)
	}
	gw := on.get("/settings/outbox", on.login("gus@globex.test"))
	wantStatus(t, gw, http.StatusOK)
	if !strings.Contains(gw.Body.String(), "globexsecret") || strings.Contains(gw.Body.String(), "roster.test/invite/abc") {
		t.Errorf("Globex's admin does not see just Globex's mail: %.3000s", gw.Body.String())
	}
	if !strings.Contains(body, `<a href="https://roster.test/invite/abc" rel="noreferrer">https://roster.test/invite/abc</a>.`) {
		t.Errorf("link not clickable: %.3000s", body)
	}
	if !strings.Contains(body, "&lt;b&gt;bold&lt;/b&gt;") {
		t.Error("mail text not escaped")
	}
	w = on.get(fmt.Sprintf("/settings/outbox/%d", m.ID), admin)
	wantStatus(t, w, http.StatusOK)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") {
		t.Errorf("mail HTML CSP %q, want sandbox", csp)
	}
	bob := on.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
	_ = bob
	wantStatus(t, on.get("/settings/outbox", on.login("bob@acme.test")), http.StatusForbidden)
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/settings/users?page=2": "/settings/users?page=2",
		"":                       "",
		"//evil.example":         "",
		"/\\evil.example":        "",
		"https://evil.example/":  "",
		"settings":               "",
		"/ok\r\nSet-Cookie: x":   "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatting(t *testing.T) {
	ts := time.Date(2025, 3, 9, 14, 5, 0, 0, time.UTC)
	madrid := loadLocation("Europe/Madrid")
	for lang, want := range map[string]string{"en": "Mar 9, 2025, 3:05 PM", "ru": "09.03.2025 15:05", "pt-BR": "09/03/2025 15:05"} {
		if got := formatDateTime(lang, madrid, ts); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	if formatDateTime("en", madrid, time.Time{}) != "" {
		t.Error("zero time must format as empty")
	}
	for name, want := range map[string]string{"Ada Lovelace": "AL", "élodie": "É", "Ян Иванов Петров": "ЯИ", "  ": "?"} {
		if got := initials(name); got != want {
			t.Errorf("initials(%q) = %q, want %q", name, got, want)
		}
	}
	for _, tz := range timezones {
		if !core.ValidTimezone(tz) {
			t.Errorf("timezone %q is not valid", tz)
		}
	}
}

func TestCheckReferences(t *testing.T) {
	bad := template.Must(template.New("x").Parse(`{{define "layout"}}{{range .}}{{with .}}{{template "missing" .}}{{end}}{{end}}{{end}}`))
	if err := checkReferences(bad); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing template not reported: %v", err)
	}
	good := template.Must(template.New("x").Parse(`{{define "layout"}}{{if .}}{{template "content" .}}{{end}}{{end}}{{define "content"}}ok{{end}}`))
	if err := checkReferences(good); err != nil {
		t.Errorf("good templates reported: %v", err)
	}
}

func TestFormBodyLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		w := e.post("/settings/profile", admin, url.Values{"name": {"Ada Renamed"}, "note": {strings.Repeat("x", formBodyLimit)}})
		wantStatus(t, w, http.StatusRequestEntityTooLarge)
		wantContains(t, w, "The request body is too large.")
		wantNotContains(t, e.get("/settings/profile", admin), "Ada Renamed")
	})
}

// TestClientGoneIsNoError: a request whose client went away (its context
// cancelled) while the page read the database is not logged as an error.
func TestClientGoneIsNoError(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	var logs bytes.Buffer
	e := newEnv(t, db, func(d *Deps, _ *services.Config) { d.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	e.setup("en")
	admin := e.login("ada@acme.test")
	for _, path := range []string{"/settings/users", "/settings/profile"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx)
		r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: admin})
		e.srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "client went away") {
		t.Fatalf("client gone logged as: %s", logs.String())
	}
}
