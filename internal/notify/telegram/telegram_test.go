package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/notify"
	"roster/internal/notify/telegram"
	"roster/internal/notify/telegram/telegramtest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

var bundle = func() *i18n.Bundle {
	b, err := i18n.New()
	if err != nil {
		panic(err)
	}
	return b
}()

func mac(s string) []byte { return []byte("mac-of-" + s + "-0123456789abcdef") }

// people seeds workspace Acme with Ana (Spanish) and Globex with Bo
// (Russian).
func people(t testing.TB, db *store.DB) (ana, bo *core.User) {
	t.Helper()
	ctx := context.Background()
	mk := func(wsName, name, email, lang string) *core.User {
		ws := &core.Workspace{Name: wsName, Timezone: "UTC", Language: lang}
		u := &core.User{Name: name, Email: email, PasswordHash: "h", Role: core.RoleAdmin, State: core.StateActive, Language: lang, Timezone: "UTC"}
		if err := db.InTx(ctx, func(q *store.Q) error {
			if err := q.CreateWorkspace(ctx, ws); err != nil {
				return err
			}
			u.WorkspaceID = ws.ID
			return q.CreateUser(ctx, u)
		}); err != nil {
			t.Fatal(err)
		}
		return u
	}
	return mk("Acme", "Ana", "ana@example.com", "es"), mk("Globex", "Bo", "bo@example.com", "ru")
}

type fixture struct {
	db    *store.DB
	srv   *telegramtest.Server
	ch    *telegram.Channel
	now   time.Time
	clock sync.Mutex
	stop  func()
}

func (f *fixture) setNow(t time.Time) {
	f.clock.Lock()
	defer f.clock.Unlock()
	f.now = t
}

func (f *fixture) getNow() time.Time {
	f.clock.Lock()
	defer f.clock.Unlock()
	return f.now
}

// start builds a channel on db against srv and runs it until the test
// ends (or f.stop); the run must end when its context does.
func start(t testing.TB, db *store.DB, srv *telegramtest.Server, change func(*telegram.Config)) *fixture {
	t.Helper()
	f := &fixture{db: db, srv: srv, now: time.Now()}
	cfg := telegram.Config{Token: srv.Token, APIURL: srv.APIURL(), BaseURL: "http://127.0.0.1:1", DB: db, MAC: mac,
		Texts:  func(lang string) notify.Translator { return bundle.Localizer(lang) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.getNow, PollTimeout: time.Second, RetryEvery: 50 * time.Millisecond}
	if change != nil {
		change(&cfg)
	}
	ch, err := telegram.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.ch = ch
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ch.Run(ctx) }()
	var once sync.Once
	f.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(f.stop)
	return f
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fixture) ready(t testing.TB) {
	t.Helper()
	waitFor(t, "getMe", func() bool { _, ok := f.ch.BotUsername(); return ok })
}

// token extracts the start token of a t.me link, checking its shape.
func token(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "https" || u.Host != "t.me" || u.Path != "/RosterTestBot" {
		t.Fatalf("link %q", link)
	}
	tok := u.Query().Get("start")
	if len(tok) < 40 || len(tok) > 64 || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Fatalf("token %q is not 40-64 base64url characters", tok)
	}
	return tok
}

func (f *fixture) link(t *testing.T, u *core.User) *core.TelegramLink {
	t.Helper()
	l, err := f.ch.Connection(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// lastTo is the last message to chat, waiting for the count to reach n.
func lastTo(t *testing.T, srv *telegramtest.Server, chat int64, n int) telegramtest.Message {
	t.Helper()
	var got []telegramtest.Message
	waitFor(t, "a reply", func() bool {
		got = got[:0]
		for _, m := range srv.Messages() {
			if m.ChatID == chat {
				got = append(got, m)
			}
		}
		return len(got) >= n
	})
	return got[n-1]
}

// TestLinkByPolling: "Connect Telegram" gives a t.me link with a fresh
// token; a forged /start <token> update read by long polling links that
// chat to its owner, answered in the owner's language; the token works
// once (a second /start from another chat gets a polite answer and links
// nothing); it is stored only hashed; /stop unlinks; a restart handles no
// update twice.
func TestLinkByPolling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ana, bo := people(t, db)
		srv := telegramtest.NewServer(t)
		f := start(t, db, srv, nil)
		f.ready(t)
		link, err := f.ch.StartLink(ctx, ana)
		if err != nil {
			t.Fatal(err)
		}
		tok := token(t, link)
		var stored int
		if err := db.R.QueryRow(db.Rebind("SELECT COUNT(*) FROM telegram_link_tokens WHERE token_hash = ?"), []byte(tok)).Scan(&stored); err != nil || stored != 0 {
			t.Fatalf("the token is stored in clear (%d, %v)", stored, err)
		}
		srv.Send(telegramtest.Text{ChatID: 501, UserID: 501, Username: "ana_tg", Language: "en", Text: "/start " + tok})
		if m := lastTo(t, srv, 501, 1); !strings.Contains(m.Plain, "¡Listo, Ana!") {
			t.Fatalf("reply to the link: %q", m.Plain)
		}
		l := f.link(t, ana)
		if l == nil || l.ChatID != 501 || l.Username != "ana_tg" {
			t.Fatalf("link: %+v", l)
		}
		// The same token again, from someone else: refused politely.
		srv.Send(telegramtest.Text{ChatID: 666, UserID: 666, Username: "mallory", Language: "ru", Text: "/start " + tok})
		if m := lastTo(t, srv, 666, 1); !strings.Contains(m.Plain, "истёк") {
			t.Fatalf("reply to a used token: %q", m.Plain)
		}
		if l := f.link(t, ana); l.ChatID != 501 {
			t.Fatalf("a used token relinked Ana to %d", l.ChatID)
		}
		if l := f.link(t, bo); l != nil {
			t.Fatalf("Bo linked: %+v", l)
		}
		// Reach: Ana yes, Bo not connected.
		reach, err := f.ch.Reach(ctx, db.Reader(), []*core.User{ana, bo})
		if err != nil || reach[ana.ID] != "" || reach[bo.ID] != notify.UnusableNotConnected {
			t.Fatalf("reach: %v %v", reach, err)
		}
		// /stop unlinks, in Ana's language.
		srv.Send(telegramtest.Text{ChatID: 501, UserID: 501, Username: "ana_tg", Language: "en", Text: "/stop"})
		if m := lastTo(t, srv, 501, 2); !strings.Contains(m.Plain, "ya no llegarán") {
			t.Fatalf("reply to /stop: %q", m.Plain)
		}
		if l := f.link(t, ana); l != nil {
			t.Fatalf("still linked after /stop: %+v", l)
		}
		// A restart reads the stored offset: nothing is handled again.
		before := len(srv.Messages())
		f.stop()
		g := start(t, db, srv, nil)
		g.ready(t)
		srv.Send(telegramtest.Text{ChatID: 777, UserID: 777, Text: "/start"})
		lastTo(t, srv, 777, 1)
		if got := len(srv.Messages()); got != before+1 {
			t.Fatalf("after a restart %d messages were sent, want 1 (the answer to the new /start)", got-before)
		}
	})
}

// TestLinkTokenExpires: a token is refused 15 minutes after it was made.
func TestLinkTokenExpires(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	ana, _ := people(t, db)
	srv := telegramtest.NewServer(t)
	f := start(t, db, srv, nil)
	f.ready(t)
	link, err := f.ch.StartLink(ctx, ana)
	if err != nil {
		t.Fatal(err)
	}
	f.setNow(f.getNow().Add(telegram.LinkTTL))
	srv.Send(telegramtest.Text{ChatID: 501, UserID: 501, Language: "tr", Text: "/start " + token(t, link)})
	if m := lastTo(t, srv, 501, 1); !strings.Contains(m.Plain, "süresi dolmuş") {
		t.Fatalf("reply to an expired token: %q", m.Plain)
	}
	if l := f.link(t, ana); l != nil {
		t.Fatalf("an expired token linked: %+v", l)
	}
	// One made now, used a moment before its end, works.
	link, _ = f.ch.StartLink(ctx, ana)
	f.setNow(f.getNow().Add(telegram.LinkTTL - time.Second))
	srv.Send(telegramtest.Text{ChatID: 501, UserID: 501, Language: "tr", Text: "/start " + token(t, link)})
	lastTo(t, srv, 501, 2)
	if l := f.link(t, ana); l == nil {
		t.Fatal("a token was refused before its end")
	}
}

// TestWebhook: in webhook mode the channel sets the webhook at the base
// URL with a secret token; a call without it, or with another, is
// refused 403 and links nothing; two concurrent /start with one token
// link once. Webhook mode refuses a base URL that is not public https.
func TestWebhook(t *testing.T) {
	for _, base := range []string{"http://roster.example.com", "https://localhost:8443", "https://127.0.0.1", "https://10.1.2.3", "https://roster"} {
		_, err := telegram.New(telegram.Config{Token: "1:x", BaseURL: base, Webhook: true, DB: &store.DB{}, MAC: mac,
			Texts: func(string) notify.Translator { return bundle.Localizer("en") }})
		if err == nil || !strings.Contains(err.Error(), "public https") {
			t.Errorf("webhook with base URL %s: %v", base, err)
		}
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ana, _ := people(t, db)
		srv := telegramtest.NewServer(t)
		f := start(t, db, srv, func(c *telegram.Config) { c.Webhook, c.BaseURL = true, "https://roster.example.com" })
		f.ready(t)
		var hook, secret string
		waitFor(t, "setWebhook", func() bool { hook, secret = srv.Webhook(); return hook != "" })
		if hook != "https://roster.example.com/telegram/webhook" || len(secret) < 32 {
			t.Fatalf("webhook %q, secret of %d characters", hook, len(secret))
		}
		link, _ := f.ch.StartLink(ctx, ana)
		tok := token(t, link)
		h := f.ch.WebhookHandler()
		post := func(secret string, body []byte) int {
			req := httptest.NewRequest("POST", telegram.WebhookPath, bytes.NewReader(body))
			if secret != "" {
				req.Header.Set(telegram.SecretHeader, secret)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w.Code
		}
		forged := srv.Update(telegramtest.Text{ChatID: 666, UserID: 666, Text: "/start " + tok})
		for _, wrong := range []string{"", "wrong", secret + "x", strings.ToUpper(secret)} {
			if code := post(wrong, forged); code != http.StatusForbidden {
				t.Fatalf("secret %q: %d", wrong, code)
			}
		}
		if l := f.link(t, ana); l != nil {
			t.Fatalf("a refused call linked: %+v", l)
		}
		var wg sync.WaitGroup
		for chat := int64(1); chat <= 8; chat++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code := post(secret, srv.Update(telegramtest.Text{ChatID: 500 + chat, UserID: 500 + chat, Text: "/start " + tok})); code != http.StatusOK {
					t.Errorf("webhook: %d", code)
				}
			}()
		}
		wg.Wait()
		l := f.link(t, ana)
		if l == nil {
			t.Fatal("not linked")
		}
		linked := 0
		for _, m := range srv.Messages() {
			if strings.Contains(m.Plain, "¡Listo") {
				linked++
			}
		}
		if linked != 1 {
			t.Fatalf("%d chats were told they are linked", linked)
		}
	})
}

func message(u *core.User, title, body, link string) *notify.Message {
	return &notify.Message{User: u, Delivery: &core.Delivery{ID: 1, UserID: u.ID, WorkspaceID: u.WorkspaceID, Channel: "telegram"},
		Notification: &core.Notification{Title: title, Body: body, URL: link, Type: "task.assigned"}}
}

func linkTo(t *testing.T, db *store.DB, u *core.User, chat int64) {
	t.Helper()
	if err := db.Writer().LinkTelegram(context.Background(), core.TelegramLink{UserID: u.ID, WorkspaceID: u.WorkspaceID, ChatID: chat,
		LinkedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestSend: the title in bold and the body, escaped, a button to an http(s)
// link (none for another scheme), 4096 characters at most; and each kind
// of failure classed as the core needs it.
func TestSend(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	ana, bo := people(t, db)
	srv := telegramtest.NewServer(t)
	srv.Slack = 100 * time.Millisecond // the wall clock: a request may be delayed on its way
	f := start(t, db, srv, nil)
	linkTo(t, db, ana, 501)
	if err := f.ch.Send(ctx, message(ana, "<Globex> & co", `Call "them" <b>now</b>`, "https://crm.example/tasks/7?a=1&b=2")); err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	if m.ParseMode != "HTML" || m.Text != "<b>&lt;Globex&gt; &amp; co</b>\nCall &#34;them&#34; &lt;b&gt;now&lt;/b&gt;" ||
		m.Plain != "<Globex> & co\nCall \"them\" <b>now</b>" || m.ButtonURL != "https://crm.example/tasks/7?a=1&b=2" || m.ButtonText != "Abrir" {
		t.Fatalf("message: %+v", m)
	}
	// Long texts are cut at a character boundary with "…"; no button for
	// a link that is not http(s).
	long := strings.Repeat("я😀", 3000)
	if err := f.ch.Send(ctx, message(ana, "Long", long, "javascript:alert(1)")); err != nil {
		t.Fatal(err)
	}
	m = lastTo(t, srv, 501, 2)
	if !strings.HasSuffix(m.Plain, "…") || m.ButtonURL != "" || !strings.HasPrefix(m.Plain, "Long\nя😀") {
		t.Fatalf("long message: button %q, ends %q", m.ButtonURL, m.Plain[len(m.Plain)-20:])
	}
	// Not linked (any more): permanent, nothing sent.
	var se *notify.SendError
	if err := f.ch.Send(ctx, message(bo, "x", "", "")); !errors.As(err, &se) || !se.Permanent {
		t.Fatalf("not linked: %v", err)
	}
	// 5xx: temporary (not a SendError that fails the delivery).
	linkTo(t, db, bo, 700)
	srv.Fail(700, telegramtest.Failure{Status: 502, Description: "Bad Gateway"})
	if err := f.ch.Send(ctx, message(bo, "x", "", "")); err == nil || errors.As(err, &se) && (se.Permanent || se.Dead) {
		t.Fatalf("502: %#v", err)
	}
	cases := []struct {
		name  string
		fail  telegramtest.Failure
		check func(*notify.SendError) bool
	}{
		{"blocked", telegramtest.Failure{Status: 403, Description: "Forbidden: bot was blocked by the user"},
			func(e *notify.SendError) bool { return e.Dead }},
		{"chat not found", telegramtest.Failure{Status: 400, Description: "Bad Request: chat not found"},
			func(e *notify.SendError) bool { return e.Dead }},
		{"bad request", telegramtest.Failure{Status: 400, Description: "Bad Request: can't parse entities"},
			func(e *notify.SendError) bool { return e.Permanent && !e.Dead }},
		// Last: it holds every send for 3 seconds.
		{"429", telegramtest.Failure{Status: 429, Description: "Too Many Requests: retry after 3", RetryAfter: 3},
			func(e *notify.SendError) bool { return e.RetryAfter == 3*time.Second && !e.Permanent && !e.Dead }},
	}
	for i, c := range cases {
		chat := int64(600 + i)
		linkTo(t, db, bo, chat)
		srv.Fail(chat, c.fail)
		err := f.ch.Send(ctx, message(bo, "x", "", ""))
		if !errors.As(err, &se) || !c.check(se) {
			t.Errorf("%s: %#v", c.name, err)
		}
		if err != nil && strings.Contains(err.Error(), srv.Token) {
			t.Errorf("%s: the error shows the bot token: %v", c.name, err)
		}
	}
	// Unlink forgets the dead chat.
	if err := f.ch.Unlink(ctx, message(bo, "x", "", "")); err != nil || f.link(t, bo) != nil {
		t.Fatalf("unlink: %v, %+v", err, f.link(t, bo))
	}
}

// TestUnreachableAtStart: a Telegram that cannot be reached at start
// leaves the channel unavailable for linking, without failing; it
// connects when Telegram answers.
func TestUnreachableAtStart(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ana, _ := people(t, db)
	srv := telegramtest.NewServer(t)
	srv.Down(true)
	f := start(t, db, srv, nil)
	time.Sleep(200 * time.Millisecond)
	if _, err := f.ch.StartLink(context.Background(), ana); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("link while unreachable: %v", err)
	}
	srv.Down(false)
	f.ready(t)
	if _, err := f.ch.StartLink(context.Background(), ana); err != nil {
		t.Fatal(err)
	}
}

// TestOnePollerAcrossInstances: three instances on one PostgreSQL
// database: only one polls (the Bot API never sees two getUpdates at
// once); when it stops another takes over, and every /start is handled
// exactly once.
func TestOnePollerAcrossInstances(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	ana, bo := people(t, db)
	srv := telegramtest.NewServer(t)
	var fs []*fixture
	for range 3 {
		fs = append(fs, start(t, db, srv, nil))
	}
	for _, f := range fs {
		f.ready(t)
	}
	link, _ := fs[0].ch.StartLink(ctx, ana)
	srv.Send(telegramtest.Text{ChatID: 501, UserID: 501, Text: "/start " + token(t, link)})
	lastTo(t, srv, 501, 1)
	// Stop them one by one; the next takes over.
	fs[0].stop()
	fs[1].stop()
	link, _ = fs[2].ch.StartLink(ctx, bo)
	srv.Send(telegramtest.Text{ChatID: 502, UserID: 502, Text: "/start " + token(t, link)})
	lastTo(t, srv, 502, 1)
	if fs[2].link(t, ana) == nil || fs[2].link(t, bo) == nil {
		t.Fatal("not both linked")
	}
	if len(srv.Messages()) != 2 {
		t.Fatalf("%d replies, want 2", len(srv.Messages()))
	}
	if srv.Conflicts != 0 {
		t.Fatalf("%d getUpdates overlapped", srv.Conflicts)
	}
}
