package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/live"
	"roster/internal/mail/mailtest"
	"roster/internal/notify"
	"roster/internal/profile"
	"roster/internal/security"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
)

const testPassword = "violet-kettle-stream-93"

// fakeMail records mails instead of queueing them.
type fakeMail struct {
	mu    sync.Mutex
	sent  []string // recipient addresses
	mails []sentMail
}

// sentMail is one recorded mail.
type sentMail struct {
	to, lang, template string
	data               map[string]any
}

func (m *fakeMail) EnqueueTx(_ context.Context, _ *sql.Tx, _ int64, to, lang, template string, data map[string]any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, to)
	m.mails = append(m.mails, sentMail{to: to, lang: lang, template: template, data: data})
	return mailtest.Check(template, data)
}

// last returns the latest mail with template, or fails.
func (m *fakeMail) last(t *testing.T, template string) sentMail {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.mails) - 1; i >= 0; i-- {
		if m.mails[i].template == template {
			return m.mails[i]
		}
	}
	t.Fatalf("no %s mail among %d", template, len(m.mails))
	return sentMail{}
}

// env is an API on a real database behind a real HTTP server.
type env struct {
	t        testing.TB
	db       *store.DB
	auth     *auth.Service
	accounts *account.Service
	profiles *profile.Service
	sec      *security.Service
	notify   *notify.Service
	hub      *live.Hub
	set      *services.Set
	bundle   *i18n.Bundle
	mail     *fakeMail
	api      *API
	srv      *httptest.Server

	admin        *core.User
	adminSession string // a web session token of the admin
}

type envOpts struct {
	auth auth.Config
	deps Deps   // limits only; services are filled in
	lang string // of the workspace set up; default en (phone region US)
	// proxy puts the server behind a trusted proxy on loopback, so that a
	// request can come "from" another address with the from option.
	proxy bool
}

func newEnv(t testing.TB, db *store.DB, opts envOpts) *env {
	t.Helper()
	ctx := context.Background()
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, bundle: bundle, mail: &fakeMail{}, hub: live.NewHub()}
	t.Cleanup(e.hub.Close)
	set := servicetest.New(t, services.Config{DB: db, Mail: e.mail, Auth: opts.auth, BaseURL: "http://localhost", Live: e.hub})
	e.set = set
	e.auth, e.accounts, e.profiles, e.sec, e.notify = set.Auth, set.Accounts, set.Profiles, set.Security, set.Notify
	if opts.lang == "" {
		opts.lang = "en"
	}
	res, err := e.accounts.Setup(ctx, account.SetupInput{
		Workspace: "Acme", Timezone: "UTC", Language: opts.lang,
		Name: "Ada Admin", Email: "ada@example.com", Password: testPassword,
	})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	e.admin, e.adminSession = res.User, res.Token

	d := opts.deps
	d.Accounts, d.Auth, d.Profiles, d.Security, d.Notify, d.Live, d.I18n = e.accounts, e.auth, e.profiles, e.sec, e.notify, e.hub, bundle
	d.Devices = set.Devices
	d.Push = set.Push
	if e.api, err = New(d); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.api.Register(mux)
	var h http.Handler = mux
	if opts.proxy {
		h = httpx.ClientIP{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}.Middleware(mux)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// user creates a user in workspace ws.
func (e *env) user(ws, name, email string, role core.Role, rights ...core.Right) *core.User {
	e.t.Helper()
	u, err := e.accounts.CreateUser(context.Background(), account.CreateUserInput{
		Workspace: ws, Name: name, Email: email, Password: testPassword, Role: role, Rights: rights,
	})
	if err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// update changes a stored user.
func (e *env) update(u *core.User, change func(*core.User)) {
	e.t.Helper()
	ctx := context.Background()
	fresh, err := e.db.Reader().User(ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	change(fresh)
	if err := e.db.Writer().UpdateUser(ctx, fresh); err != nil {
		e.t.Fatal(err)
	}
}

// login signs in through the API and returns the session token.
func (e *env) login(email string) string {
	e.t.Helper()
	return e.loginWith(email, testPassword)
}

// loginWith signs in with password.
func (e *env) loginWith(email, password string) string {
	e.t.Helper()
	r := e.do("POST", "/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	r.status(http.StatusOK)
	tok, _ := r.json()["token"].(string)
	if tok == "" {
		e.t.Fatalf("login %s: no token in %s", email, r.body)
	}
	return tok
}

// response is a finished request.
type response struct {
	t      testing.TB
	code   int
	header http.Header
	body   []byte
}

// opt changes a request before it is sent.
type opt func(*http.Request)

func bearer(token string) opt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func cookie(token string) opt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: token}) }
}

func lang(l string) opt {
	return func(r *http.Request) { r.Header.Set("Accept-Language", l) }
}

// from makes a request come from ip through the trusted proxy of an env
// with proxy set.
func from(ip string) opt {
	return func(r *http.Request) { r.Header.Set("X-Forwarded-For", ip) }
}

func header(k, v string) opt {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// do sends method path (relative to /api/v1) with an optional JSON body.
func (e *env) do(method, path, body string, opts ...opt) *response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+Prefix+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{t: e.t, code: res.StatusCode, header: res.Header, body: b}
}

func (r *response) status(want int) *response {
	r.t.Helper()
	if r.code != want {
		r.t.Fatalf("status %d, want %d; body %s", r.code, want, r.body)
	}
	return r
}

func (r *response) json() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		r.t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// problem checks that r is an RFC 9457 problem with status want and
// returns it.
func (r *response) problem(want int) problemDoc {
	r.t.Helper()
	r.status(want)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p problemDoc
	if err := json.Unmarshal(r.body, &p); err != nil {
		r.t.Fatalf("problem: %v: %s", err, r.body)
	}
	if p.Status != want || p.Title != http.StatusText(want) || p.Detail == "" {
		r.t.Fatalf("problem fields: %+v", p)
	}
	return p
}

type problemDoc struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
		Value    any    `json:"value"`
	} `json:"errors"`
}

// msg renders a catalog message as the API would for lang.
func (e *env) msg(lang, key string, data map[string]any) string {
	return e.bundle.Localizer(lang).Message(key, data)
}
