package webpush

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/secrets"
	"roster/internal/store"
)

// Limits of what a browser subscribes with.
const (
	MaxEndpointBytes  = 2048
	MaxUserAgentBytes = 512
	// MaxPerPerson is how many browsers one person keeps subscribed; a
	// new one beyond it replaces the one least recently used (or, never
	// used, subscribed longest ago).
	MaxPerPerson = 20
)

// Subscriptions is the rules of browsers subscribing to push, shared by
// the API, the pages (list and remove) and the adapter.
type Subscriptions struct {
	db      *store.DB
	box     *secrets.Box
	allowed []netip.Prefix // http endpoints on these IP literals are accepted (tests)
}

// NewSubscriptions returns the subscription rules; endpoints and keys are
// sealed with box. It needs no configured channel: people can list and
// remove their browsers whether or not the operator set Web Push up.
func NewSubscriptions(db *store.DB, box *secrets.Box) *Subscriptions {
	return &Subscriptions{db: db, box: box}
}

// SubscribeInput is what the browser's PushSubscription gives (its
// toJSON(): endpoint, keys.p256dh, keys.auth) and the browser's
// User-Agent.
type SubscribeInput struct {
	Endpoint  string
	P256dh    string // base64url (padded or not; the standard alphabet is taken too)
	Auth      string
	UserAgent string
	// SessionID is the web session subscribing, 0 for an API token: the
	// subscription ends when the session does (sign-out, revocation).
	SessionID int64
}

// sealedSub is what the sealed column holds.
type sealedSub struct {
	Endpoint string `json:"e"`
	P256dh   []byte `json:"p"`
	Auth     []byte `json:"a"`
}

// Subscribe records the browser for u. The same endpoint subscribed again
// (by u or anyone else) updates its one row, moving it to u: a browser
// has one push subscription per site, and the person signed in last is
// the one it shows notifications to. Beyond MaxPerPerson the least
// recently used of u's other subscriptions are removed. Bad input is
// core.EINVALID with field errors and changes nothing.
func (s *Subscriptions) Subscribe(ctx context.Context, u *core.User, in SubscribeInput) (*core.PushSubscription, error) {
	p, err := s.validate(u, in)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(q *store.Q) error {
		// One subscriber at a time per person, so concurrent subscribes
		// cannot each trim the same oldest row and leave more than the cap.
		if err := q.LockUser(ctx, u.ID); err != nil {
			return err
		}
		if err := q.SubscribePush(ctx, p); err != nil {
			return err
		}
		_, err := q.TrimPushSubscriptions(ctx, u.WorkspaceID, u.ID, MaxPerPerson)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Subscriptions) validate(u *core.User, in SubscribeInput) (*core.PushSubscription, error) {
	var v core.Invalid
	switch {
	case in.Endpoint == "":
		v.Add("endpoint", i18n.Key("webpush.error.endpoint_required"), nil)
	case len(in.Endpoint) > MaxEndpointBytes:
		v.Add("endpoint", i18n.Key("webpush.error.endpoint_too_long"), map[string]any{"Count": MaxEndpointBytes})
	case !s.endpointOK(in.Endpoint):
		v.Add("endpoint", i18n.Key("webpush.error.endpoint_invalid"), nil)
	}
	p256dh, err := decodeKey(in.P256dh)
	switch {
	case in.P256dh == "":
		v.Add("p256dh", i18n.Key("webpush.error.p256dh_required"), nil)
	case err != nil || len(p256dh) != 65 || p256dh[0] != 4:
		v.Add("p256dh", i18n.Key("webpush.error.p256dh_invalid"), nil)
	default:
		if _, err := ecdh.P256().NewPublicKey(p256dh); err != nil { // not on the curve
			v.Add("p256dh", i18n.Key("webpush.error.p256dh_invalid"), nil)
		}
	}
	auth, err := decodeKey(in.Auth)
	switch {
	case in.Auth == "":
		v.Add("auth", i18n.Key("webpush.error.auth_required"), nil)
	case err != nil || len(auth) != 16:
		v.Add("auth", i18n.Key("webpush.error.auth_invalid"), nil)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	sealed, err := json.Marshal(sealedSub{Endpoint: in.Endpoint, P256dh: p256dh, Auth: auth})
	if err != nil {
		return nil, err
	}
	browser, os := ParseUserAgent(cutUTF8(in.UserAgent, MaxUserAgentBytes))
	return &core.PushSubscription{WorkspaceID: u.WorkspaceID, UserID: u.ID, Browser: browser, OS: os, SessionID: in.SessionID,
		Endpoint: in.Endpoint, P256dh: p256dh, Auth: auth,
		EndpointHash: s.endpointHash(in.Endpoint), Sealed: s.box.Seal(sealed)}, nil
}

// endpointOK: an absolute https URL without user info; http only to an IP
// literal in the allowed networks (a local push service in tests).
func (s *Subscriptions) endpointOK(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" || u.Hostname() == "" {
		return false
	}
	for _, c := range endpoint {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		// Only to a push service of the operator's own networks: a
		// public one is reached over https, never in clear.
		ip, err := netip.ParseAddr(u.Hostname())
		if err != nil {
			return false
		}
		for _, p := range s.allowed {
			if p.Contains(ip.Unmap()) {
				return true
			}
		}
		return false
	}
	return false
}

// decodeKey reads a key as the browser gives it: base64url normally, but
// padded or standard-alphabet forms are taken too.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// cutUTF8 returns at most n bytes of s, not splitting a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) > n {
		for n > 0 && s[n]&0xC0 == 0x80 { // s[n] continues a sequence: cut before it
			n--
		}
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// endpointHash keys an endpoint: unique, and not a way to confirm a
// guessed endpoint against a stolen database.
func (s *Subscriptions) endpointHash(endpoint string) []byte {
	return s.box.MAC("push-endpoint:" + endpoint)
}

// List returns u's subscriptions, the last subscribed first, sealed.
func (s *Subscriptions) List(ctx context.Context, u *core.User) ([]core.PushSubscription, error) {
	list, err := s.db.Reader().PushSubscriptions(ctx, u.WorkspaceID, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]core.PushSubscription, len(list))
	for i, p := range list {
		out[i] = *p
	}
	return out, nil
}

// Remove forgets one of u's subscriptions; another person's, or one of
// another workspace, does not exist for u (core.ErrNotFound).
func (s *Subscriptions) Remove(ctx context.Context, u *core.User, id int64) error {
	ok, err := s.db.Writer().DeletePushSubscription(ctx, u.WorkspaceID, u.ID, id)
	if err != nil {
		return err
	}
	if !ok {
		return core.ErrNotFound
	}
	return nil
}

// Find returns u's subscription of endpoint: how a page learns whether
// its browser's subscription is still the signed-in person's (it may
// have been removed from the list, or belong to someone who signed in
// before). core.ErrNotFound when it is not.
func (s *Subscriptions) Find(ctx context.Context, u *core.User, endpoint string) (*core.PushSubscription, error) {
	if endpoint == "" || len(endpoint) > MaxEndpointBytes {
		return nil, core.ErrNotFound
	}
	return s.db.Reader().PushSubscriptionOf(ctx, u.WorkspaceID, u.ID, s.endpointHash(endpoint))
}

// RemoveEndpoint forgets u's subscription of endpoint (the browser
// unsubscribed); core.ErrNotFound when u has none.
func (s *Subscriptions) RemoveEndpoint(ctx context.Context, u *core.User, endpoint string) error {
	ok, err := s.db.Writer().DeletePushEndpoint(ctx, u.WorkspaceID, u.ID, s.endpointHash(endpoint))
	if err != nil {
		return err
	}
	if !ok {
		return core.ErrNotFound
	}
	return nil
}

// open fills in p's endpoint and keys from its sealed copy.
func (s *Subscriptions) open(p *core.PushSubscription) error {
	raw, err := s.box.Open(p.Sealed)
	if err != nil {
		return errors.Join(errors.New("open a push subscription"), err)
	}
	var ss sealedSub
	if err := json.Unmarshal(raw, &ss); err != nil {
		return fmt.Errorf("read a push subscription: %w", err)
	}
	p.Endpoint, p.P256dh, p.Auth = ss.Endpoint, ss.P256dh, ss.Auth
	return nil
}
