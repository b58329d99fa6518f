package apns_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/notify/mobile/apns"
	"roster/internal/notify/mobile/push"
	"roster/internal/notify/mobile/pushtest"
)

const deviceToken = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClient(t *testing.T, srv *pushtest.APNs, now func() time.Time) *apns.Client {
	t.Helper()
	c, err := apns.New(apns.Config{Key: srv.Key, KeyID: srv.KeyID, TeamID: srv.TeamID, Topic: srv.Topic, Environment: apns.Sandbox,
		Endpoint: srv.URL, HTTP: push.ClientConfig{RootCAs: srv.RootCAs}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func message() *push.Message {
	return &push.Message{Token: deviceToken, Title: "Incoming call", Body: "+34 600 000 000", URL: "https://crm.example/calls/9",
		Type: "call.incoming", ID: "77", High: true, CollapseID: "roster-77", Expires: time.Unix(1_900_000_000, 0)}
}

// TestSendShape: the local server checks the ES256 provider token
// against the .p8's public key (iss the team, kid the key) and the
// headers; the payload carries the alert, the sound and the link.
func TestSendShape(t *testing.T) {
	srv := pushtest.NewAPNs(t)
	c := newClient(t, srv, nil)
	if err := c.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	m := message()
	m.High, m.CollapseID = false, ""
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 2 || len(srv.Violations()) > 0 {
		t.Fatalf("received %d, violations %v", len(got), srv.Violations())
	}
	h := got[0].Header
	if h.Get("apns-push-type") != "alert" || h.Get("apns-priority") != "10" || h.Get("apns-expiration") != "1900000000" ||
		h.Get("apns-collapse-id") != "roster-77" || h.Get("apns-topic") != srv.Topic || got[0].Token != deviceToken {
		t.Fatalf("headers %v", h)
	}
	if got[1].Header.Get("apns-priority") != "5" || got[1].Header.Get("apns-collapse-id") != "" {
		t.Fatalf("normal priority: %v", got[1].Header)
	}
	aps := got[0].Payload["aps"].(map[string]any)
	alert := aps["alert"].(map[string]any)
	if alert["title"] != "Incoming call" || alert["body"] != "+34 600 000 000" || aps["sound"] != "default" ||
		got[0].Payload["url"] != "https://crm.example/calls/9" {
		t.Fatalf("payload %s", got[0].Body)
	}
}

// TestProviderTokenReuse: one provider token serves every send for
// apns.TokenAge (between 20 and 60 minutes); ExpiredProviderToken renews
// it only when it is at least 20 minutes old, and the send is tried again
// with the new one.
func TestProviderTokenReuse(t *testing.T) {
	if apns.TokenAge < apns.MinTokenAge || apns.TokenAge >= apns.MaxTokenAge {
		t.Fatalf("TokenAge %v outside [%v, %v)", apns.TokenAge, apns.MinTokenAge, apns.MaxTokenAge)
	}
	clk := &clock{t: time.Now()}
	srv := pushtest.NewAPNs(t)
	srv.Now = clk.now
	c := newClient(t, srv, clk.now)
	ctx := context.Background()
	send := func() error { return c.Send(ctx, message()) }
	for range 20 {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if c.TokensMade() != 1 || srv.ProviderTokens() != 1 {
		t.Fatalf("20 sends made %d tokens", c.TokensMade())
	}
	// An ExpiredProviderToken for a token younger than 20 minutes does not
	// renew it: the send fails for now.
	clk.add(5 * time.Minute)
	srv.Then(pushtest.Answer{Status: 403, Reason: "ExpiredProviderToken"})
	if pe := push.Classify(send()); pe.Kind != push.Temporary || pe.Reason != "ExpiredProviderToken" || c.TokensMade() != 1 {
		t.Fatalf("young token renewed: %v, %d tokens", pe, c.TokensMade())
	}
	// Still the same token up to TokenAge.
	clk.add(apns.TokenAge - 5*time.Minute - time.Second)
	if err := send(); err != nil || c.TokensMade() != 1 {
		t.Fatalf("token renewed before %v: %v, %d", apns.TokenAge, err, c.TokensMade())
	}
	clk.add(time.Second)
	if err := send(); err != nil || c.TokensMade() != 2 || srv.ProviderTokens() != 2 {
		t.Fatalf("token not renewed at %v: %v, %d", apns.TokenAge, err, c.TokensMade())
	}
	// 25 minutes on, APNs calls it expired: renewed, and the send goes
	// through on the second try.
	clk.add(25 * time.Minute)
	srv.Then(pushtest.Answer{Status: 403, Reason: "ExpiredProviderToken"})
	before := len(srv.Received())
	if err := send(); err != nil || c.TokensMade() != 3 || len(srv.Received()) != before+1 {
		t.Fatalf("expired token: %v, %d tokens", err, c.TokensMade())
	}
	// Never older than an hour: the server (whose clock this is) would
	// refuse it; with TokenAge below an hour it never sees one.
	for range 10 {
		clk.add(7 * time.Minute)
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if srv.TooOld() != 0 || c.TokensMade() != 4 || len(srv.Violations()) > 0 {
		t.Fatalf("%d sends with a token over an hour old, %d tokens made, violations %v", srv.TooOld(), c.TokensMade(), srv.Violations())
	}
}

// TestConcurrentSendsShareOneToken: a burst of sends signs one token.
func TestConcurrentSendsShareOneToken(t *testing.T) {
	srv := pushtest.NewAPNs(t)
	c := newClient(t, srv, nil)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := c.Send(context.Background(), message()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.TokensMade() != 1 || len(srv.Received()) != 50 {
		t.Fatalf("%d tokens for %d sends", c.TokensMade(), len(srv.Received()))
	}
}

// TestErrorsAreClassified: 410 is dead with its timestamp, 400
// BadDeviceToken dead, 429 and 5xx temporary with Retry-After, other 400s
// permanent.
func TestErrorsAreClassified(t *testing.T) {
	srv := pushtest.NewAPNs(t)
	c := newClient(t, srv, nil)
	gone := time.UnixMilli(1_800_000_000_123).UTC()
	for _, tc := range []struct {
		answer pushtest.Answer
		kind   push.Kind
		retry  time.Duration
		since  time.Time
	}{
		{pushtest.Answer{Status: 410, Reason: "Unregistered", Timestamp: gone}, push.Dead, 0, gone},
		{pushtest.Answer{Status: 400, Reason: "BadDeviceToken"}, push.Dead, 0, time.Time{}},
		{pushtest.Answer{Status: 400, Reason: "DeviceTokenNotForTopic"}, push.Permanent, 0, time.Time{}},
		{pushtest.Answer{Status: 413, Reason: "PayloadTooLarge"}, push.Permanent, 0, time.Time{}},
		{pushtest.Answer{Status: 429, Reason: "TooManyRequests", RetryAfter: "12"}, push.Temporary, 12 * time.Second, time.Time{}},
		{pushtest.Answer{Status: 500, Reason: "InternalServerError"}, push.Temporary, 0, time.Time{}},
		{pushtest.Answer{Status: 503, Reason: "ServiceUnavailable"}, push.Temporary, 0, time.Time{}},
	} {
		srv.Then(tc.answer)
		err := c.Send(context.Background(), message())
		var pe *push.Error
		if !errors.As(err, &pe) || pe.Kind != tc.kind || pe.RetryAfter != tc.retry || !pe.Since.Equal(tc.since) || pe.Reason != tc.answer.Reason {
			t.Errorf("%d %s: %#v", tc.answer.Status, tc.answer.Reason, pe)
		}
	}
}

func TestLongBodyIsCut(t *testing.T) {
	srv := pushtest.NewAPNs(t)
	c := newClient(t, srv, nil)
	m := message()
	m.Body = strings.Repeat("Ça a été très beau — \"привет\" 🇪🇸👨‍👩‍👧 ", 200)
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()[0]
	body := got.Payload["aps"].(map[string]any)["alert"].(map[string]any)["body"].(string)
	if len(got.Body) > push.MaxPayload || len(got.Body) < push.MaxPayload-64 || !strings.HasSuffix(body, push.Ellipsis) ||
		!strings.HasPrefix(m.Body, strings.TrimSuffix(body, push.Ellipsis)) {
		t.Fatalf("%d bytes, ends %q", len(got.Body), body[len(body)-30:])
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	srv := pushtest.NewAPNs(t)
	for name, c := range map[string]apns.Config{
		"no key":          {KeyID: "k", TeamID: "t", Topic: "x"},
		"not a key":       {Key: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), KeyID: "k", TeamID: "t", Topic: "x"},
		"no topic":        {Key: srv.Key, KeyID: "k", TeamID: "t"},
		"bad environment": {Key: srv.Key, KeyID: "k", TeamID: "t", Topic: "x", Environment: "staging"},
		"bad endpoint":    {Key: srv.Key, KeyID: "k", TeamID: "t", Topic: "x", Endpoint: "ftp://x"},
	} {
		if _, err := apns.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
