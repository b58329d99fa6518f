// Package webpush is the browser push channel of notifications (Web
// Push: RFC 8030 delivery, RFC 8291 message encryption, RFC 8292 VAPID):
// the browsers people subscribe (Subscriptions) and the adapter (Channel)
// that sends each delivery to every browser of its person through the
// browser vendor's push service.
package webpush

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	wp "github.com/SherClockHolmes/webpush-go"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/notify/mobile/push"
	"roster/internal/secrets"
	"roster/internal/store"
)

// Config is what the channel is built from.
type Config struct {
	DB      *store.DB
	Secrets *secrets.Box // seals the VAPID private key and the subscriptions; MACs the endpoints
	// Subject is the VAPID contact, "mailto:…" or "https://…"; required.
	Subject string
	// BaseURL is Roster's public URL: a notification without a link
	// opens BaseURL+"/notifications".
	BaseURL string
	// HTTPClient sends the pushes; nil for NewHTTPClient(AllowedNetworks).
	// A client given here replaces its endpoint safety: build it with
	// NewHTTPClient, or give it a transport that checks addresses as that
	// one does.
	HTTPClient *http.Client
	// AllowedNetworks may be connected to even when not public (tests:
	// 127.0.0.0/8 and ::1/128), and hold the only http (not https)
	// endpoints accepted.
	AllowedNetworks []netip.Prefix
	Logger          *slog.Logger
	Now             func() time.Time
}

// Payload sizes. The library pads every message to one 4096-byte
// aes128gcm record: 86 bytes of header (salt, record size, key id
// length, 65-byte key), the 16-byte tag and the 1-byte delimiter leave
// MaxPlaintext bytes of JSON.
const (
	RecordSize   = 4096
	MaxPlaintext = RecordSize - 86 - 16 - 1
)

// Channel sends notifications to browsers.
type Channel struct {
	c      Config
	subs   *Subscriptions
	signer *signer
	client *http.Client
	public string
	// libKey is the private key as the library wants it (it signs a JWT
	// of its own on every send, which doer replaces).
	libKey string
}

var (
	_ notify.Adapter  = (*Channel)(nil)
	_ notify.Unlinker = (*Channel)(nil)
)

// Open returns the Web Push channel, loading the VAPID key pair, made and
// stored (the private key sealed) on the first start. Instances starting
// at once on one database end with one key pair.
func Open(ctx context.Context, c Config) (*Channel, error) {
	if c.DB == nil || c.Secrets == nil {
		return nil, errors.New("webpush: Config needs DB and Secrets")
	}
	if !strings.HasPrefix(c.Subject, "mailto:") && !strings.HasPrefix(c.Subject, "https://") || len(c.Subject) < len("mailto:x") {
		return nil, fmt.Errorf("webpush: the VAPID subject must be a mailto: or https: contact, got %q", c.Subject)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	key, err := loadKeys(ctx, c.DB, c.Secrets)
	if err != nil {
		return nil, err
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	priv, err := key.Bytes()
	if err != nil {
		return nil, err
	}
	ch := &Channel{c: c, subs: &Subscriptions{db: c.DB, box: c.Secrets, allowed: c.AllowedNetworks},
		public: base64.RawURLEncoding.EncodeToString(pub), libKey: base64.RawURLEncoding.EncodeToString(priv), client: c.HTTPClient}
	ch.signer = &signer{key: key, public: ch.public, subject: c.Subject, now: c.Now, cache: map[string]cachedAuth{}}
	if ch.client == nil {
		ch.client = NewHTTPClient(c.AllowedNetworks)
	}
	return ch, nil
}

// PublicKey is the VAPID public key, the browser's applicationServerKey:
// the uncompressed P-256 point (65 bytes) in base64url without padding.
func (ch *Channel) PublicKey() string { return ch.public }

// Subscriptions returns the subscription rules of the channel (they
// accept http endpoints on AllowedNetworks, which NewSubscriptions'
// refuse).
func (ch *Channel) Subscriptions() *Subscriptions { return ch.subs }

// Channel implements notify.Adapter.
func (*Channel) Channel() notify.Channel { return notify.Browser }

// Reach implements notify.Adapter: a person is reached when a browser of
// theirs is subscribed; one query per workspace of users.
func (ch *Channel) Reach(ctx context.Context, q *store.Q, users []*core.User) (map[int64]string, error) {
	out := make(map[int64]string)
	for ws, ids := range notify.ByWorkspace(users) {
		has, err := q.PushSubscribers(ctx, ws, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if !has[id] {
				out[id] = notify.UnusableNoSubscription
			}
		}
	}
	return out, nil
}

// Unlink implements notify.Unlinker. It does nothing: Send removes the
// subscriptions their push service called gone as it meets them (and
// returns Dead only when none is left), so there is nothing to forget
// for the person as a whole.
func (*Channel) Unlink(context.Context, *notify.Message) error { return nil }

// Payload is the JSON the service worker receives.
type Payload struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	URL   string `json:"url"`
	Tag   string `json:"tag"`
	Lang  string `json:"lang"`
}

// message is one notification as every browser of the person gets it.
type message struct {
	payload []byte
	ttl     int // seconds
	urgency wp.Urgency
	topic   string
}

type kind int

const (
	temporary kind = iota
	permanent
	dead
)

// outcome is what happened on one subscription.
type outcome struct {
	sub        *core.PushSubscription
	ok         bool
	kind       kind
	err        string
	retryAfter time.Duration
}

// Send implements notify.Adapter: the message goes to every browser the
// person subscribed. Subscriptions their service calls gone (404, 410)
// are removed at once. When any failed for now (429, 5xx, network), the
// delivery is retried after the longest Retry-After asked, also when
// others took it (they get it again under the same topic and tag, which
// replace it); else it is sent when any push service took it; when all
// failed for good it fails, Dead when every one was gone.
func (ch *Channel) Send(ctx context.Context, m *notify.Message) error {
	subs, err := ch.c.DB.Reader().PushSubscriptions(ctx, m.User.WorkspaceID, m.User.ID)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return &notify.SendError{Err: errors.New("webpush: no subscribed browser"), Dead: true}
	}
	msg, err := ch.message(m)
	if err != nil {
		return &notify.SendError{Err: err, Permanent: true}
	}
	// At once to every browser: a slow push service (up to Timeout) does
	// not hold up the others.
	outcomes := make([]outcome, len(subs))
	var wg sync.WaitGroup
	for i, sub := range subs {
		wg.Go(func() { outcomes[i] = ch.sendOne(ctx, sub, msg) })
	}
	wg.Wait()
	return ch.settle(ctx, outcomes)
}

func (ch *Channel) sendOne(ctx context.Context, sub *core.PushSubscription, msg *message) outcome {
	o := outcome{sub: sub}
	if err := ch.subs.open(sub); err != nil {
		o.kind, o.err = permanent, err.Error()
		return o
	}
	auth, err := ch.signer.authorization(sub.Endpoint)
	if err != nil {
		o.kind, o.err = permanent, err.Error()
		return o
	}
	// The library appends its padding to the message slice it is given:
	// without spare capacity, so each send pads its own copy.
	plain := msg.payload[:len(msg.payload):len(msg.payload)]
	res, err := wp.SendNotificationWithContext(ctx, plain, &wp.Subscription{Endpoint: sub.Endpoint,
		Keys: wp.Keys{P256dh: base64.RawURLEncoding.EncodeToString(sub.P256dh), Auth: base64.RawURLEncoding.EncodeToString(sub.Auth)}},
		&wp.Options{HTTPClient: doer{ch.client, auth}, RecordSize: RecordSize, Subscriber: ch.c.Subject, Topic: msg.topic,
			TTL: msg.ttl, Urgency: msg.urgency, VAPIDPublicKey: ch.public, VAPIDPrivateKey: ch.libKey})
	if err != nil {
		// Never the endpoint in the message: it is a capability URL
		// (net/http quotes it, re-encoded, in its errors).
		var ue *url.Error
		if errors.As(err, &ue) {
			if aud, aerr := audience(sub.Endpoint); aerr == nil {
				ue.URL = aud + "/…"
			} else {
				ue.URL = "…"
			}
		}
		o.kind, o.err = temporary, scrub(err, sub.Endpoint)
		if errors.Is(err, ErrRefusedAddress) || errors.Is(err, wp.ErrMaxPadExceeded) {
			o.kind = permanent
		}
		return o
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // so the connection is reused
	res.Body.Close()
	o.kind = classify(res.StatusCode)
	if o.kind == temporary {
		// Never past the message's lifetime: by then it can only fail.
		o.retryAfter = min(push.RetryAfter(res.Header, ch.c.Now()), time.Duration(msg.ttl)*time.Second)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		o.ok = true
	}
	o.err = fmt.Sprintf("push service answered %d", res.StatusCode)
	return o
}

// classify turns a push service's status into a kind of failure (RFC
// 8030 and the vendors' documentation): 404 and 410 mean the subscription
// is gone; 429 and 5xx are for now; any other refusal (400 bad request,
// 401/403 VAPID refused, 413 too large, a redirect) is for good.
func classify(status int) kind {
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return dead
	case status == http.StatusTooManyRequests || status >= 500:
		return temporary
	}
	return permanent
}

// scrub removes the endpoint from an error text (net/http quotes the URL).
func scrub(err error, endpoint string) string {
	s := err.Error()
	if u, aerr := audience(endpoint); aerr == nil {
		s = strings.ReplaceAll(s, endpoint, u+"/…")
		s = strings.ReplaceAll(s, strconv.Quote(endpoint), strconv.Quote(u+"/…"))
	}
	return s
}

// doer sends the library's request with Roster's cached VAPID
// Authorization in place of the one the library signs on every call (its
// token ignores the caller's clock and expiry, and prefixes a "mailto:"
// subject with another "mailto:").
type doer struct {
	c    *http.Client
	auth string
}

func (d doer) Do(r *http.Request) (*http.Response, error) {
	r.Header.Set("Authorization", d.auth)
	return d.c.Do(r)
}

// settle records what the sends did and gives the delivery's result.
func (ch *Channel) settle(ctx context.Context, outcomes []outcome) error {
	var sent []int64
	var res notify.Outcomes
	q := ch.c.DB.Writer()
	for _, o := range outcomes {
		if o.ok {
			sent = append(sent, o.sub.ID)
			continue
		}
		what := fmt.Sprintf("browser subscription %d: %s", o.sub.ID, o.err)
		switch o.kind {
		case temporary:
			res.Temporary = append(res.Temporary, what)
			res.RetryAfter = max(res.RetryAfter, o.retryAfter)
		case permanent:
			res.Permanent = append(res.Permanent, what)
		case dead:
			// Only if the browser did not subscribe again since this send
			// read the row.
			removed, err := q.DeleteDeadPushSubscription(ctx, o.sub.ID, o.sub.SubscribedAt)
			if err != nil {
				return err
			}
			if removed {
				res.Dead = append(res.Dead, what)
				ch.c.Logger.InfoContext(ctx, "push subscription removed", "subscription", o.sub.ID, "user", o.sub.UserID, "err", o.err)
			} else {
				res.Permanent = append(res.Permanent, what+" (subscribed again since; kept)")
			}
		}
	}
	if res.Sent = len(sent); res.Sent > 0 {
		if err := q.TouchPushSubscriptions(ctx, sent); err != nil {
			ch.c.Logger.WarnContext(ctx, "record push subscription use", "err", err)
		}
	}
	return res.Err("webpush")
}

// message builds what every browser of the person is sent.
func (ch *Channel) message(m *notify.Message) (*message, error) {
	n := m.Notification
	now := ch.c.Now()
	expires := notify.PushExpiry(n, now)
	left := expires.Sub(now)
	if left <= 0 {
		return nil, fmt.Errorf("webpush: the notification expired at %s before it could be sent", expires.UTC().Format(time.RFC3339))
	}
	link := n.URL
	if !strings.HasPrefix(link, "https://") && !strings.HasPrefix(link, "http://") {
		link = ch.c.BaseURL + "/notifications"
	}
	topic := "roster-" + strconv.FormatInt(n.ID, 10)
	p := Payload{Title: n.Title, Body: n.Body, URL: link, Tag: topic, Lang: m.User.Language}
	size := func(title, body string) int {
		q := p
		q.Title, q.Body = title, body
		return len(encode(q))
	}
	var err error
	if p.Title, p.Body, err = push.Fit(p.Title, p.Body, MaxPlaintext, size); err != nil {
		return nil, fmt.Errorf("webpush: %w", err)
	}
	urgency := wp.UrgencyNormal
	if notify.Urgent(n.Category) {
		urgency = wp.UrgencyHigh
	}
	return &message{payload: encode(p), ttl: int(left.Round(time.Second) / time.Second), urgency: urgency, topic: topic}, nil
}

// encode is the payload's JSON, without HTML escaping (it is not HTML,
// and "<" as \u003c takes six bytes of the 4 KB).
func encode(p Payload) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.Encode(p) // strings only: cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
