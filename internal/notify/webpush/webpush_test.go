package webpush_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	wp "github.com/SherClockHolmes/webpush-go"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/notify/webpush"
	"roster/internal/notify/webpush/webpushtest"
	"roster/internal/secrets"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// clock is a settable time shared by the channel, the store and the
// push service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // every reading later: subscriptions are ordered
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	db      *store.DB
	box     *secrets.Box
	svc     *webpushtest.Service
	ch      *webpush.Channel
	clock   *clock
	ana, bo *core.User
	other   *core.User // in another workspace
}

// newEnv makes two workspaces (Acme with Ana and Bo, Globex with Cy),
// a local push service and the channel, allowed to reach it.
func newEnv(t testing.TB, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	box, err := secrets.Load("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, box: box, clock: &clock{t: time.Now()}}
	db.SetClock(e.clock.Now)
	mk := func(q *store.Q, ws *core.Workspace, name, lang string) *core.User {
		u := &core.User{WorkspaceID: ws.ID, Name: name, Email: strings.ToLower(name) + "@example.com", Language: lang, Timezone: "UTC",
			Role: core.RoleUser, State: core.StateActive, PasswordHash: "x"}
		if err := q.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	if err := db.InTx(ctx, func(q *store.Q) error {
		acme := &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en", Country: "US"}
		globex := &core.Workspace{Name: "Globex", Timezone: "UTC", Language: "en", Country: "US"}
		if err := q.CreateWorkspace(ctx, acme); err != nil {
			return err
		}
		if err := q.CreateWorkspace(ctx, globex); err != nil {
			return err
		}
		e.ana, e.bo, e.other = mk(q, acme, "Ana", "es"), mk(q, acme, "Bo", "en"), mk(q, globex, "Cy", "ru")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.svc = webpushtest.NewService(t)
	e.svc.Now = e.clock.Now
	e.ch = e.open(t, loopback)
	return e
}

func (e *env) open(t testing.TB, allowed []netip.Prefix) *webpush.Channel {
	t.Helper()
	ch, err := webpush.Open(context.Background(), webpush.Config{DB: e.db, Secrets: e.box, Subject: "mailto:ops@roster.example",
		BaseURL: "https://roster.example/", AllowedNetworks: allowed, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// subscribe makes a browser subscription at the service and records it
// for u.
func (e *env) subscribe(t testing.TB, u *core.User) (webpushtest.Sub, *core.PushSubscription) {
	t.Helper()
	s := e.svc.NewSubscription()
	p, err := e.ch.Subscriptions().Subscribe(context.Background(), u, webpush.SubscribeInput{Endpoint: s.Endpoint, P256dh: s.P256dh, Auth: s.Auth,
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func (e *env) message(u *core.User, id int64) *notify.Message {
	return &notify.Message{User: u, Delivery: &core.Delivery{ID: id, UserID: u.ID, WorkspaceID: u.WorkspaceID, Channel: "browser"},
		Notification: &core.Notification{ID: id, Type: "task.assigned", Category: "tasks", Title: "Nueva tarea: llamar a Globex",
			Body: "Ana te la asignó <ahora>", URL: "https://roster.example/tasks/7", CreatedAt: e.clock.Now()}}
}

func (e *env) count(t testing.TB, u *core.User) int {
	t.Helper()
	list, err := e.ch.Subscriptions().List(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func payload(t testing.TB, p webpushtest.Push) webpush.Payload {
	t.Helper()
	var out webpush.Payload
	if err := json.Unmarshal(p.Payload, &out); err != nil {
		t.Fatalf("payload %q: %v", p.Payload, err)
	}
	return out
}

func sendError(t testing.TB, err error) *notify.SendError {
	t.Helper()
	var se *notify.SendError
	if !errors.As(err, &se) {
		t.Fatalf("not a SendError: %v", err)
	}
	return se
}

// TestSendArrives: a notification reaches the browser encrypted for it,
// with a VAPID token for the service's origin, TTL, urgency and topic;
// the payload decrypts to the title, body, link and language; the
// subscription's last use is recorded.
func TestSendArrives(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		sub, p := e.subscribe(t, e.ana)
		if p.Browser != "Firefox" || p.OS != "Linux" {
			t.Fatalf("user agent read as %q %q", p.Browser, p.OS)
		}
		m := e.message(e.ana, 41)
		if err := e.ch.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		got := e.svc.Accepted(sub.Endpoint)
		if len(got) != 1 {
			t.Fatalf("%d messages arrived", len(got))
		}
		want := webpush.Payload{Title: m.Notification.Title, Body: m.Notification.Body, URL: "https://roster.example/tasks/7",
			Tag: "roster-41", Lang: "es"}
		if pl := payload(t, got[0]); pl != want {
			t.Fatalf("payload %+v, want %+v", pl, want)
		}
		h := got[0].Header
		if ttl, _ := strconv.Atoi(h.Get("TTL")); ttl < 86300 || ttl > 86400 {
			t.Errorf("TTL %q", h.Get("TTL"))
		}
		if h.Get("Urgency") != "normal" || h.Get("Topic") != "roster-41" {
			t.Errorf("Urgency %q, Topic %q", h.Get("Urgency"), h.Get("Topic"))
		}
		c := got[0].Claims
		if c["aud"] != e.svc.URL || c["sub"] != "mailto:ops@roster.example" {
			t.Errorf("claims %v", c)
		}
		if !strings.HasSuffix(h.Get("Authorization"), ", k="+e.ch.PublicKey()) {
			t.Errorf("Authorization %q does not carry the public key", h.Get("Authorization"))
		}
		list, _ := e.ch.Subscriptions().List(ctx, e.ana)
		if len(list) != 1 || list[0].LastUsedAt.IsZero() {
			t.Fatalf("last use not recorded: %+v", list)
		}
		// A call: high urgency, two minutes; no link: the centre.
		call := e.message(e.ana, 42)
		call.Notification.Type, call.Notification.Category, call.Notification.URL = "call.incoming", "calls", ""
		if err := e.ch.Send(ctx, call); err != nil {
			t.Fatal(err)
		}
		got = e.svc.Accepted(sub.Endpoint)
		if len(got) != 2 || got[1].Header.Get("Urgency") != "high" || got[1].Header.Get("TTL") != "120" ||
			payload(t, got[1]).URL != "https://roster.example/notifications" {
			t.Fatalf("call: %v %+v", got[1].Header, payload(t, got[1]))
		}
		// A link that is not http(s) is not passed on.
		js := e.message(e.ana, 43)
		js.Notification.URL = "javascript:alert(1)"
		if err := e.ch.Send(ctx, js); err != nil {
			t.Fatal(err)
		}
		if got := e.svc.Accepted(sub.Endpoint); payload(t, got[2]).URL != "https://roster.example/notifications" {
			t.Fatalf("javascript: link passed on: %+v", payload(t, got[2]))
		}
	})
}

// TestAnswers: each push service answer gives its outcome; gone
// subscriptions are removed, the others kept.
func TestAnswers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		date := e.clock.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
		for _, c := range []struct {
			status     int
			retryAfter string
			permanent  bool
			dead       bool
			wait       time.Duration // at least
		}{
			{status: 410, dead: true},
			{status: 404, dead: true},
			{status: 413, permanent: true},
			{status: 400, permanent: true},
			{status: 401, permanent: true},
			{status: 403, permanent: true},
			{status: 429, retryAfter: "120", wait: 120 * time.Second},
			{status: 429, retryAfter: date, wait: 80 * time.Second},
			{status: 500},
			{status: 503, retryAfter: "7", wait: 7 * time.Second},
		} {
			name := fmt.Sprintf("%d %s", c.status, c.retryAfter)
			sub, _ := e.subscribe(t, e.bo)
			e.svc.Fail(sub.Endpoint, c.status, c.retryAfter)
			se := sendError(t, e.ch.Send(ctx, e.message(e.bo, 50)))
			if se.Permanent != c.permanent || se.Dead != c.dead || se.RetryAfter < c.wait || c.wait == 0 && se.RetryAfter != 0 || se.RetryAfter > c.wait+time.Minute {
				t.Errorf("%s: %+v", name, se)
			}
			if strings.Contains(se.Error(), sub.Endpoint) {
				t.Errorf("%s: the endpoint is in the error: %s", name, se.Error())
			}
			if n := e.count(t, e.bo); c.dead && n != 0 || !c.dead && n != 1 {
				t.Errorf("%s: %d subscriptions left", name, n)
			}
			if err := e.ch.Subscriptions().RemoveEndpoint(ctx, e.bo, sub.Endpoint); err != nil && !c.dead {
				t.Fatal(err)
			}
		}
	})
}

// TestRetryThenSuccess: a temporary failure then a success delivers one
// message, and a retried message carries the same topic (it replaces a
// pending copy at the push service).
func TestRetryThenSuccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		sub, _ := e.subscribe(t, e.ana)
		e.svc.Fail(sub.Endpoint, 500, "")
		m := e.message(e.ana, 60)
		if se := sendError(t, e.ch.Send(ctx, m)); se.Permanent || se.Dead {
			t.Fatalf("500: %+v", se)
		}
		if err := e.ch.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		all := e.svc.Received()
		if len(e.svc.Accepted(sub.Endpoint)) != 1 || len(all) != 2 || all[0].Header.Get("Topic") != all[1].Header.Get("Topic") {
			t.Fatalf("received %d, accepted %d", len(all), len(e.svc.Accepted(sub.Endpoint)))
		}
	})
}

// TestSeveralBrowsers: sent when any took it (the gone one removed
// anyway); retried after the longest Retry-After when none took it and
// one failed for now; permanent when none is temporary; Dead only when
// all were gone.
func TestSeveralBrowsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		a, _ := e.subscribe(t, e.ana)
		b, _ := e.subscribe(t, e.ana)
		c, _ := e.subscribe(t, e.ana)
		e.svc.Gone(c.Endpoint)
		if err := e.ch.Send(ctx, e.message(e.ana, 70)); err != nil {
			t.Fatalf("one of three gone: %v", err)
		}
		if len(e.svc.Accepted(a.Endpoint)) != 1 || len(e.svc.Accepted(b.Endpoint)) != 1 || e.count(t, e.ana) != 2 {
			t.Fatalf("a %d, b %d, left %d", len(e.svc.Accepted(a.Endpoint)), len(e.svc.Accepted(b.Endpoint)), e.count(t, e.ana))
		}
		e.svc.Fail(a.Endpoint, 429, "30")
		e.svc.Fail(b.Endpoint, 503, "90")
		if se := sendError(t, e.ch.Send(ctx, e.message(e.ana, 71))); se.Permanent || se.Dead || se.RetryAfter != 90*time.Second {
			t.Fatalf("both busy: %+v", se)
		}
		// One took it, one is busy: tried again, so the busy one gets it
		// too (the other gets it again under the same topic and tag).
		e.svc.Fail(b.Endpoint, 503, "20")
		if se := sendError(t, e.ch.Send(ctx, e.message(e.ana, 75))); se.Permanent || se.Dead || se.RetryAfter != 20*time.Second {
			t.Fatalf("one took it, one busy: %+v", se)
		}
		if err := e.ch.Send(ctx, e.message(e.ana, 75)); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		if got := len(e.svc.Accepted(b.Endpoint)); got != 2 { // 70 and 75
			t.Fatalf("the busy browser got %d messages, want 2", got)
		}
		// A Retry-After past the message's lifetime is cut to it.
		e.svc.Fail(a.Endpoint, 503, "99999999")
		e.svc.Fail(b.Endpoint, 503, "99999999")
		if se := sendError(t, e.ch.Send(ctx, e.message(e.ana, 76))); se.RetryAfter > notify.PushTTL {
			t.Fatalf("Retry-After not cut to the message's lifetime: %v", se.RetryAfter)
		}
		e.svc.Fail(a.Endpoint, 413, "")
		e.svc.Fail(b.Endpoint, 500, "")
		if se := sendError(t, e.ch.Send(ctx, e.message(e.ana, 72))); se.Permanent || se.Dead {
			t.Fatalf("one too large, one busy: %+v", se)
		}
		e.svc.Fail(a.Endpoint, 413, "")
		e.svc.Gone(b.Endpoint)
		if se := sendError(t, e.ch.Send(ctx, e.message(e.ana, 73))); !se.Permanent || se.Dead || e.count(t, e.ana) != 1 {
			t.Fatalf("one too large, one gone: %+v, %d left", se, e.count(t, e.ana))
		}
		e.svc.Gone(a.Endpoint)
		if se := sendError(t, e.ch.Send(ctx, e.message(e.ana, 74))); !se.Dead || e.count(t, e.ana) != 0 {
			t.Fatalf("all gone: %+v, %d left", se, e.count(t, e.ana))
		}
	})
}

// TestLongBodyIsCut: a body far over 4 KB is cut at a character boundary
// with an ellipsis so the message fits one record; the service decrypts
// it.
func TestLongBodyIsCut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		sub, _ := e.subscribe(t, e.other)
		m := e.message(e.other, 80)
		m.Notification.Body = strings.Repeat("Привет, мир \"👩‍👩‍👧\" 🇺🇦 ", 300)
		if err := e.ch.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		got := e.svc.Accepted(sub.Endpoint)
		if len(got) != 1 {
			t.Fatalf("%d arrived", len(got))
		}
		pl := payload(t, got[0])
		if len(got[0].Payload) > webpush.MaxPlaintext || len(got[0].Payload) < webpush.MaxPlaintext-60 {
			t.Fatalf("payload of %d bytes, limit %d", len(got[0].Payload), webpush.MaxPlaintext)
		}
		if !strings.HasSuffix(pl.Body, "…") || !utf8.ValidString(pl.Body) || !strings.HasPrefix(m.Notification.Body, strings.TrimSuffix(pl.Body, "…")) {
			t.Fatalf("cut body ends %q", pl.Body[len(pl.Body)-40:])
		}
		if pl.Lang != "ru" || pl.Title != m.Notification.Title {
			t.Fatalf("payload %+v", pl)
		}
	})
}

// TestEndpointSafety: without allowed networks, endpoints on loopback
// (by address, by a name resolving to it, or in IPv4-mapped form) are
// not dialled and fail for good; redirects are not followed; the address
// rule refuses private, link-local, CGNAT, multicast and unspecified
// ranges.
func TestEndpointSafety(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		strict := e.open(t, nil)
		sub := e.svc.NewSubscription()
		port := strings.TrimPrefix(e.svc.URL, "http://127.0.0.1:")
		// http is refused at subscription without allowed networks, to a
		// public address as to a private one: pushes never go in clear.
		for _, endpoint := range []string{sub.Endpoint, "http://8.8.8.8/push/x", "http://[2606:4700::1111]/push/x"} {
			if _, err := strict.Subscriptions().Subscribe(ctx, e.bo, webpush.SubscribeInput{Endpoint: endpoint, P256dh: sub.P256dh, Auth: sub.Auth}); core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("http endpoint %s subscribed: %v", endpoint, err)
			}
		}
		for _, host := range []string{"127.0.0.1", "localhost", "[::ffff:127.0.0.1]"} {
			p, err := strict.Subscriptions().Subscribe(ctx, e.bo, webpush.SubscribeInput{Endpoint: "https://" + host + ":" + port + "/push/x", P256dh: sub.P256dh, Auth: sub.Auth})
			if err != nil {
				t.Fatal(err)
			}
			se := sendError(t, strict.Send(ctx, e.message(e.bo, 90)))
			if !se.Permanent || !errors.Is(se, se) || !strings.Contains(se.Error(), "not public") {
				t.Errorf("%s: %+v", host, se)
			}
			if err := strict.Subscriptions().Remove(ctx, e.bo, p.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.svc.Conns(); n != 0 {
			t.Fatalf("the push service was dialled %d times", n)
		}
		// A network error never carries the endpoint, in any encoding.
		secret, err := e.ch.Subscriptions().Subscribe(ctx, e.bo, webpush.SubscribeInput{Endpoint: "https://127.0.0.1:9/wpush/v2/gAAAAé-secret", P256dh: sub.P256dh, Auth: sub.Auth})
		if err != nil {
			t.Fatal(err)
		}
		if se := sendError(t, e.ch.Send(ctx, e.message(e.bo, 92))); strings.Contains(se.Error(), "secret") || strings.Contains(se.Error(), "wpush") {
			t.Fatalf("the endpoint is in the error: %v", se)
		}
		if err := e.ch.Subscriptions().Remove(ctx, e.bo, secret.ID); err != nil {
			t.Fatal(err)
		}
		// A redirect is an answer, not followed.
		redirect := httptest.NewServer(http.RedirectHandler(sub.Endpoint, http.StatusTemporaryRedirect))
		defer redirect.Close()
		if _, err := e.ch.Subscriptions().Subscribe(ctx, e.bo, webpush.SubscribeInput{Endpoint: redirect.URL + "/push/1", P256dh: sub.P256dh, Auth: sub.Auth}); err != nil {
			t.Fatal(err)
		}
		if se := sendError(t, e.ch.Send(ctx, e.message(e.bo, 91))); !se.Permanent {
			t.Fatalf("redirect: %+v", se)
		}
		if n := len(e.svc.Received()); n != 0 {
			t.Fatalf("the redirect was followed: %d received", n)
		}
	})
	for addr, ok := range map[string]bool{
		"8.8.8.8": true, "2001:4860:4860::8888": true, "142.250.0.1": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::": false, "224.0.0.1": false, "ff02::1": false, "fe80::1": false, "fc00::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true, "255.255.255.255": false, "198.18.0.1": false,
		// IPv4 through NAT64, 6to4 and the compatible form: judged as IPv4.
		"64:ff9b::a00:1": false, "64:ff9b::7f00:1": false, "64:ff9b::a9fe:a9fe": false, "64:ff9b::808:808": true,
		"2002:7f00:1::1": false, "2002:a00:1::1": false, "2002:808:808::1": true, "::7f00:1": false, "::a00:1": false,
	} {
		if webpush.AllowedAddrOf(addr) != ok {
			t.Errorf("%s allowed: %v, want %v", addr, !ok, ok)
		}
	}
	if !webpush.AllowedAddr(loopback, netip.MustParseAddr("::ffff:127.0.0.1")) {
		t.Error("an allowed network in IPv4-mapped form is refused")
	}
}

// TestSubscribeValidates: each bad field is refused with its key, and
// nothing is stored; keys are taken in every base64 form a browser or
// client may give.
func TestSubscribeValidates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		sub := e.svc.NewSubscription()
		ok := webpush.SubscribeInput{Endpoint: "https://push.example.net/send/abc", P256dh: sub.P256dh, Auth: sub.Auth}
		raw, _ := base64.RawURLEncoding.DecodeString(sub.P256dh)
		offCurve := append([]byte(nil), raw...)
		offCurve[64] ^= 1
		compressed, _ := (&ecdhKey{}).compressed(t)
		with := func(f func(*webpush.SubscribeInput)) webpush.SubscribeInput {
			in := ok
			f(&in)
			return in
		}
		for name, c := range map[string]struct {
			in     webpush.SubscribeInput
			fields map[string]string
		}{
			"no endpoint":  {with(func(in *webpush.SubscribeInput) { in.Endpoint = "" }), map[string]string{"endpoint": "webpush.error.endpoint_required"}},
			"relative":     {with(func(in *webpush.SubscribeInput) { in.Endpoint = "/push/abc" }), map[string]string{"endpoint": "webpush.error.endpoint_invalid"}},
			"http":         {with(func(in *webpush.SubscribeInput) { in.Endpoint = "http://push.example.net/abc" }), map[string]string{"endpoint": "webpush.error.endpoint_invalid"}},
			"http private": {with(func(in *webpush.SubscribeInput) { in.Endpoint = "http://10.0.0.1/abc" }), map[string]string{"endpoint": "webpush.error.endpoint_invalid"}},
			"ftp":          {with(func(in *webpush.SubscribeInput) { in.Endpoint = "ftp://push.example.net/abc" }), map[string]string{"endpoint": "webpush.error.endpoint_invalid"}},
			"userinfo":     {with(func(in *webpush.SubscribeInput) { in.Endpoint = "https://u:p@push.example.net/abc" }), map[string]string{"endpoint": "webpush.error.endpoint_invalid"}},
			"space":        {with(func(in *webpush.SubscribeInput) { in.Endpoint = "https://push.example.net/a b" }), map[string]string{"endpoint": "webpush.error.endpoint_invalid"}},
			"long": {with(func(in *webpush.SubscribeInput) {
				in.Endpoint = "https://push.example.net/" + strings.Repeat("a", 2048)
			}), map[string]string{"endpoint": "webpush.error.endpoint_too_long"}},
			"no p256dh":      {with(func(in *webpush.SubscribeInput) { in.P256dh = "" }), map[string]string{"p256dh": "webpush.error.p256dh_required"}},
			"p256dh base64":  {with(func(in *webpush.SubscribeInput) { in.P256dh = "not*base64" }), map[string]string{"p256dh": "webpush.error.p256dh_invalid"}},
			"p256dh short":   {with(func(in *webpush.SubscribeInput) { in.P256dh = base64.RawURLEncoding.EncodeToString(raw[:64]) }), map[string]string{"p256dh": "webpush.error.p256dh_invalid"}},
			"p256dh curve":   {with(func(in *webpush.SubscribeInput) { in.P256dh = base64.RawURLEncoding.EncodeToString(offCurve) }), map[string]string{"p256dh": "webpush.error.p256dh_invalid"}},
			"p256dh compact": {with(func(in *webpush.SubscribeInput) { in.P256dh = compressed }), map[string]string{"p256dh": "webpush.error.p256dh_invalid"}},
			"no auth":        {with(func(in *webpush.SubscribeInput) { in.Auth = "" }), map[string]string{"auth": "webpush.error.auth_required"}},
			"auth 15":        {with(func(in *webpush.SubscribeInput) { in.Auth = base64.RawURLEncoding.EncodeToString(make([]byte, 15)) }), map[string]string{"auth": "webpush.error.auth_invalid"}},
			"auth 17":        {with(func(in *webpush.SubscribeInput) { in.Auth = base64.RawURLEncoding.EncodeToString(make([]byte, 17)) }), map[string]string{"auth": "webpush.error.auth_invalid"}},
			"all three": {webpush.SubscribeInput{}, map[string]string{"endpoint": "webpush.error.endpoint_required",
				"p256dh": "webpush.error.p256dh_required", "auth": "webpush.error.auth_required"}},
		} {
			_, err := e.ch.Subscriptions().Subscribe(ctx, e.ana, c.in)
			ce := core.AsError(err)
			if ce == nil || ce.Code != core.EINVALID || len(ce.Fields) != len(c.fields) {
				t.Errorf("%s: %v", name, err)
				continue
			}
			for _, f := range ce.Fields {
				if c.fields[f.Field] != f.Key {
					t.Errorf("%s: %+v", name, f)
				}
			}
		}
		if n := e.count(t, e.ana); n != 0 {
			t.Fatalf("refused subscriptions stored %d", n)
		}
		// Padded, standard alphabet: the same key.
		key, _ := base64.RawURLEncoding.DecodeString(sub.P256dh)
		auth, _ := base64.RawURLEncoding.DecodeString(sub.Auth)
		std := with(func(in *webpush.SubscribeInput) {
			in.P256dh, in.Auth = base64.StdEncoding.EncodeToString(key), base64.URLEncoding.EncodeToString(auth)
			in.UserAgent = strings.Repeat("é", 600) + " Chrome/120"
		})
		p, err := e.ch.Subscriptions().Subscribe(ctx, e.ana, std)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.P256dh, key) || !bytes.Equal(p.Auth, auth) || p.Browser != "" {
			t.Fatalf("subscribed %+v", p)
		}
	})
}

type ecdhKey struct{}

// compressed is a valid key in compressed form (33 bytes), which Web Push
// does not use.
func (ecdhKey) compressed(t testing.TB) (string, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := k.PublicKey().Bytes()
	c := append([]byte{2 | b[64]&1}, b[1:33]...)
	return base64.RawURLEncoding.EncodeToString(c), nil
}

// TestSubscriptionRows: the same endpoint subscribed again is one row,
// moving to the last person (also in another workspace); the endpoint and
// keys are not in clear in the database; removal is the owner's only; at
// most 20 per person, the least recently used going first.
func TestSubscriptionRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		subs := e.ch.Subscriptions()
		s := e.svc.NewSubscription()
		in := webpush.SubscribeInput{Endpoint: s.Endpoint, P256dh: s.P256dh, Auth: s.Auth}
		first, err := subs.Subscribe(ctx, e.ana, in)
		if err != nil {
			t.Fatal(err)
		}
		again, err := subs.Subscribe(ctx, e.ana, in)
		if err != nil || again.ID != first.ID || e.count(t, e.ana) != 1 {
			t.Fatalf("again: %v %d", err, e.count(t, e.ana))
		}
		var rows int
		if err := db.W.QueryRowContext(ctx, "SELECT COUNT(*) FROM push_subscriptions").Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("%d rows %v", rows, err)
		}
		var hash, sealed []byte
		if err := db.W.QueryRowContext(ctx, "SELECT endpoint_hash, sealed FROM push_subscriptions").Scan(&hash, &sealed); err != nil {
			t.Fatal(err)
		}
		path := s.Endpoint[len(e.svc.URL):]
		if bytes.Contains(sealed, []byte(path)) || bytes.Contains(hash, []byte(path)) || bytes.Contains(sealed, first.Auth) || bytes.Contains(sealed, []byte(s.Auth)) {
			t.Fatal("the endpoint or auth secret is stored in clear")
		}
		// Cy, in Globex, signs in on the same browser: the row moves.
		moved, err := subs.Subscribe(ctx, e.other, in)
		if err != nil || moved.ID != first.ID || e.count(t, e.ana) != 0 || e.count(t, e.other) != 1 {
			t.Fatalf("moved: %v, Ana %d, Cy %d", err, e.count(t, e.ana), e.count(t, e.other))
		}
		if err := subs.Remove(ctx, e.ana, moved.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("Ana removed Cy's subscription: %v", err)
		}
		if err := subs.RemoveEndpoint(ctx, e.ana, s.Endpoint); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("Ana removed Cy's endpoint: %v", err)
		}
		// Subscriptions usable without a channel list and remove.
		plain := webpush.NewSubscriptions(db, e.box)
		if list, err := plain.List(ctx, e.other); err != nil || len(list) != 1 || list[0].Browser != "" {
			t.Fatalf("list: %v %v", list, err)
		}
		if err := plain.RemoveEndpoint(ctx, e.other, s.Endpoint); err != nil || e.count(t, e.other) != 0 {
			t.Fatalf("remove endpoint: %v", err)
		}
		if err := plain.Remove(ctx, e.other, moved.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("removed twice: %v", err)
		}

		// The cap: Bo's oldest, used once, outlives the second oldest.
		var made []*core.PushSubscription
		for range webpush.MaxPerPerson {
			_, p := e.subscribe(t, e.bo)
			made = append(made, p)
		}
		if err := e.db.Writer().TouchPushSubscriptions(ctx, []int64{made[0].ID}); err != nil {
			t.Fatal(err)
		}
		_, newest := e.subscribe(t, e.bo)
		list, err := subs.List(ctx, e.bo)
		if err != nil || len(list) != webpush.MaxPerPerson || list[0].ID != newest.ID {
			t.Fatalf("after 21: %d, %v", len(list), err)
		}
		ids := map[int64]bool{}
		for _, p := range list {
			ids[p.ID] = true
		}
		if !ids[made[0].ID] || ids[made[1].ID] {
			t.Fatalf("the cap removed the wrong one: kept first %v, kept second %v", ids[made[0].ID], ids[made[1].ID])
		}
	})
}

// TestReach: people without a subscription are not reachable.
func TestReach(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.subscribe(t, e.ana)
		e.subscribe(t, e.other)
		got, err := e.ch.Reach(context.Background(), db.Reader(), []*core.User{e.ana, e.bo, e.other})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[e.bo.ID] != notify.UnusableNoSubscription {
			t.Fatalf("reach %v", got)
		}
	})
}

// TestOpenKeys: instances opening at once share one key pair; the private
// key is stored sealed; the public key is the 65-byte point; a subject is
// required.
func TestOpenKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db) // its database has a key now; the race below is on a fresh one
		fresh := storetest.Open(t, db.Engine)
		var wg sync.WaitGroup
		chans := make([]*webpush.Channel, 8)
		for i := range chans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ch, err := webpush.Open(ctx, webpush.Config{DB: fresh, Secrets: e.box, Subject: "https://roster.example/contact"})
				if err != nil {
					t.Error(err)
					return
				}
				chans[i] = ch
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, ch := range chans[1:] {
			if ch.PublicKey() != chans[0].PublicKey() || !bytes.Equal(webpush.PrivateKey(ch), webpush.PrivateKey(chans[0])) {
				t.Fatal("two key pairs in use")
			}
		}
		pub, err := base64.RawURLEncoding.DecodeString(chans[0].PublicKey())
		if err != nil || len(pub) != 65 || pub[0] != 4 || strings.ContainsAny(chans[0].PublicKey(), "=+/") {
			t.Fatalf("public key %q", chans[0].PublicKey())
		}
		var stored string
		var sealed []byte
		if err := fresh.W.QueryRowContext(ctx, "SELECT public_key, private_sealed FROM push_vapid_keys").Scan(&stored, &sealed); err != nil {
			t.Fatal(err)
		}
		d := webpush.PrivateKey(chans[0])
		if stored != chans[0].PublicKey() || bytes.Contains(sealed, d) || bytes.Contains(sealed, []byte(base64.RawURLEncoding.EncodeToString(d))) ||
			bytes.Contains(sealed, []byte(fmt.Sprintf("%x", d))) {
			t.Fatal("the private key is stored in clear")
		}
		// Opened again later: the same key; another database has its own.
		again, err := webpush.Open(ctx, webpush.Config{DB: fresh, Secrets: e.box, Subject: "mailto:ops@roster.example"})
		if err != nil || again.PublicKey() != chans[0].PublicKey() {
			t.Fatalf("reopened: %v", err)
		}
		if e.ch.PublicKey() == chans[0].PublicKey() {
			t.Fatal("two databases share a key")
		}
		for _, subject := range []string{"", "ops@roster.example", "http://roster.example", "mailto:"} {
			if _, err := webpush.Open(ctx, webpush.Config{DB: fresh, Secrets: e.box, Subject: subject}); err == nil {
				t.Errorf("subject %q accepted", subject)
			}
		}
	})
}

// TestVAPIDTokenReuse: one token per push service, reused while more
// than an hour of its 12 is left, then a new one; the service (on the same
// clock) never sees one expired or further than 12 hours away.
func TestVAPIDTokenReuse(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	e := newEnv(t, db)
	sub, _ := e.subscribe(t, e.ana)
	send := func() {
		t.Helper()
		if err := e.ch.Send(ctx, e.message(e.ana, 1)); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		send()
	}
	if n := webpush.Signs(e.ch); n != 1 {
		t.Fatalf("%d tokens for 20 sends", n)
	}
	e.clock.Add(10*time.Hour + 59*time.Minute)
	send()
	if n := webpush.Signs(e.ch); n != 1 {
		t.Fatalf("renewed with over an hour left: %d", n)
	}
	e.clock.Add(2 * time.Minute)
	send()
	if n := webpush.Signs(e.ch); n != 2 {
		t.Fatalf("not renewed with under an hour left: %d", n)
	}
	got := e.svc.Accepted(sub.Endpoint)
	if got[len(got)-1].Header.Get("Authorization") == got[0].Header.Get("Authorization") {
		t.Fatal("the old token is still sent")
	}
}

// TestLibraryOutputDecrypts: what the library encrypts (with its own
// random salt and key, which cannot be fixed to Appendix A's) opens with
// the receive side that opens Appendix A's message, padded to one
// 4096-byte record.
func TestLibraryOutputDecrypts(t *testing.T) {
	browser, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	rand.Read(auth)
	var body []byte
	c := doFunc(func(r *http.Request) (*http.Response, error) {
		body, _ = io.ReadAll(r.Body)
		return &http.Response{StatusCode: 201, Body: io.NopCloser(strings.NewReader(""))}, nil
	})
	priv, pub, err := wp.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	res, err := wp.SendNotificationWithContext(context.Background(), []byte("When I grow up, I want to be a watermelon"),
		&wp.Subscription{Endpoint: "https://push.example.net/x", Keys: wp.Keys{P256dh: base64.RawURLEncoding.EncodeToString(browser.PublicKey().Bytes()),
			Auth: base64.RawURLEncoding.EncodeToString(auth)}}, &wp.Options{HTTPClient: c, RecordSize: webpush.RecordSize, Subscriber: "mailto:a@b.c", TTL: 60,
			VAPIDPublicKey: pub, VAPIDPrivateKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(body) != webpush.RecordSize {
		t.Fatalf("body of %d bytes", len(body))
	}
	plain, err := webpushtest.Decrypt(body, browser, auth)
	if err != nil || string(plain) != "When I grow up, I want to be a watermelon" {
		t.Fatalf("%q %v", plain, err)
	}
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestParseUserAgent names common browsers and systems.
func TestParseUserAgent(t *testing.T) {
	for ua, want := range map[string][2]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36":                            {"Chrome", "Windows"},
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91":          {"Edge", "Windows"},
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15":                      {"Safari", "macOS"},
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1":    {"Safari", "iOS"},
		"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36": {"Samsung Internet", "Android"},
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0":                        {"Opera", "Linux"},
		"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0":                                                                       {"Firefox", "Android"},
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36":                             {"Chrome", "ChromeOS"},
		"curl/8.5.0": {"", ""},
		"":           {"", ""},
	} {
		b, o := webpush.ParseUserAgent(ua)
		if b != want[0] || o != want[1] {
			t.Errorf("%q: %q %q, want %v", ua, b, o, want)
		}
	}
}

// TestStaleCallNotPushed: a ringing call whose two minutes passed before
// it could be sent fails for good instead of ringing late; a task from
// 23 hours ago still goes, with the hour it has left as its TTL.
func TestStaleCallNotPushed(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	e := newEnv(t, db)
	sub, _ := e.subscribe(t, e.ana)
	call := e.message(e.ana, 100)
	call.Notification.Type, call.Notification.Category = "call.incoming", "calls"
	call.Notification.CreatedAt = e.clock.Now().Add(-3 * time.Minute)
	if se := sendError(t, e.ch.Send(ctx, call)); !se.Permanent {
		t.Fatalf("stale call: %+v", se)
	}
	old := e.message(e.ana, 101)
	old.Notification.CreatedAt = e.clock.Now().Add(-23 * time.Hour)
	if err := e.ch.Send(ctx, old); err != nil {
		t.Fatal(err)
	}
	got := e.svc.Accepted(sub.Endpoint)
	if len(got) != 1 || got[0].Header.Get("TTL") != "3600" {
		t.Fatalf("accepted %d, TTL %v", len(got), got)
	}
}

// TestCapUnderConcurrentSubscribes: 64 browsers subscribing at once for a
// person who already has the most allowed leave exactly MaxPerPerson, on
// both engines (the person's row is locked while subscribing).
func TestCapUnderConcurrentSubscribes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for range webpush.MaxPerPerson {
			e.subscribe(t, e.ana)
		}
		subs := make([]webpushtest.Sub, 64)
		for i := range subs {
			subs[i] = e.svc.NewSubscription()
		}
		var wg sync.WaitGroup
		for _, s := range subs {
			wg.Go(func() {
				if _, err := e.ch.Subscriptions().Subscribe(context.Background(), e.ana, webpush.SubscribeInput{Endpoint: s.Endpoint, P256dh: s.P256dh, Auth: s.Auth}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := e.count(t, e.ana); n != webpush.MaxPerPerson {
			t.Fatalf("%d subscriptions after 64 at once, want %d", n, webpush.MaxPerPerson)
		}
	})
}
