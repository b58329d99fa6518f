// Package apns sends notifications through the Apple Push Notification
// service over HTTP/2 (the standard library's), authorised by a provider
// token: an ES256 JWT (golang-jwt) signed with the team's .p8 key, reused
// for TokenAge and renewed no more often than every MinTokenAge, as Apple
// asks.
package apns

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"roster/internal/notify/mobile/push"
)

// Endpoints of the two environments.
const (
	ProductionEndpoint = "https://api.push.apple.com"
	SandboxEndpoint    = "https://api.sandbox.push.apple.com"
)

// Environments.
const (
	Production = "production"
	Sandbox    = "sandbox"
)

// Provider token lifetimes: Apple refuses a token older than an hour
// (ExpiredProviderToken) and one renewed more often than every 20 minutes
// (TooManyProviderTokenUpdates). A token is renewed after TokenAge, or on
// ExpiredProviderToken once it is at least MinTokenAge old.
const (
	MinTokenAge = 20 * time.Minute
	MaxTokenAge = 60 * time.Minute
	TokenAge    = 50 * time.Minute
)

// Config is what a Client is built from.
type Config struct {
	Key         []byte // the .p8 file's contents (a PEM PKCS #8 P-256 key)
	KeyID       string // the key's id (the JWT's kid)
	TeamID      string // the team's id (the JWT's iss)
	Topic       string // the app's bundle id
	Environment string // Production (default) or Sandbox
	Endpoint    string // overrides the environment's base URL (tests)
	HTTP        push.ClientConfig
	Now         func() time.Time // time.Now when nil; tests move it
}

// Client sends APNs notifications. It is safe for concurrent use.
type Client struct {
	http     *http.Client
	endpoint string
	topic    string
	now      func() time.Time
	tokens   *providerToken
}

// New reads the key and prepares the client.
func New(c Config) (*Client, error) {
	key, err := jwt.ParseECPrivateKeyFromPEM(c.Key)
	if err != nil {
		return nil, fmt.Errorf("apns: read the .p8 key: %w", err)
	}
	if c.KeyID == "" || c.TeamID == "" || c.Topic == "" {
		return nil, errors.New("apns: the key id, team id and topic are required")
	}
	endpoint := c.Endpoint
	switch c.Environment {
	case "", Production:
		if endpoint == "" {
			endpoint = ProductionEndpoint
		}
	case Sandbox:
		if endpoint == "" {
			endpoint = SandboxEndpoint
		}
	default:
		return nil, fmt.Errorf("apns: environment must be %s or %s, not %q", Sandbox, Production, c.Environment)
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("apns: endpoint %q is not an http(s) URL", endpoint)
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Client{http: push.NewHTTPClient(c.HTTP), endpoint: strings.TrimSuffix(endpoint, "/"), topic: c.Topic, now: now,
		tokens: &providerToken{key: key, keyID: c.KeyID, teamID: c.TeamID, now: now}}, nil
}

// providerToken is the JWT every request carries, made once per TokenAge.
type providerToken struct {
	key           *ecdsa.PrivateKey
	keyID, teamID string
	now           func() time.Time

	mu     sync.Mutex
	token  string
	issued time.Time
	made   int // tokens signed so far, for tests
}

func (p *providerToken) get() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.token != "" && now.Sub(p.issued) < TokenAge {
		return p.token, nil
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": p.teamID, "iat": now.Unix()})
	t.Header["kid"] = p.keyID
	signed, err := t.SignedString(p.key)
	if err != nil {
		return "", fmt.Errorf("apns: sign the provider token: %w", err)
	}
	p.token, p.issued = signed, now
	p.made++
	return signed, nil
}

// expired drops used after APNs called it expired, if it is still the
// current token and old enough to be renewed; false when it stays (a
// token younger than MinTokenAge, which Apple would refuse to see
// replaced, or one another send renewed already).
func (p *providerToken) expired(used string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.token != used {
		return true // renewed by another send
	}
	if p.now().Sub(p.issued) < MinTokenAge {
		return false
	}
	p.token = ""
	return true
}

// TokensMade is how many provider tokens the client has signed.
func (c *Client) TokensMade() int {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	return c.tokens.made
}

type payload struct {
	APS  aps    `json:"aps"`
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}

type aps struct {
	Alert alert  `json:"alert"`
	Sound string `json:"sound"`
}

type alert struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Body is the payload APNs is sent for m, its texts cut to fit
// push.MaxPayload.
func Body(m *push.Message) ([]byte, error) {
	p := payload{APS: aps{Sound: "default"}, URL: m.URL, Type: m.Type, ID: m.ID}
	encode := func(title, body string) []byte {
		p.APS.Alert = alert{Title: title, Body: body}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(&p)
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	title, body, err := push.Fit(m.Title, m.Body, push.MaxPayload, func(t, b string) int { return len(encode(t, b)) })
	if err != nil {
		return nil, err
	}
	return encode(title, body), nil
}

// Send delivers m. A failure is a *push.Error: 410 Unregistered is Dead
// with Since set from APNs' timestamp, 400 BadDeviceToken is Dead, 429
// and 5xx are Temporary; 403 ExpiredProviderToken renews the provider
// token (when it may be renewed) and tries once more.
func (c *Client) Send(ctx context.Context, m *push.Message) error {
	body, err := Body(m)
	if err != nil {
		return &push.Error{Kind: push.Permanent, Err: fmt.Errorf("apns: %w", err)}
	}
	for try := 0; ; try++ {
		token, err := c.tokens.get()
		if err != nil {
			return &push.Error{Kind: push.Temporary, Err: err}
		}
		e := c.post(ctx, m, body, token)
		if e == nil {
			return nil
		}
		if e.Reason == "ExpiredProviderToken" && try == 0 && c.tokens.expired(token) {
			continue
		}
		return e
	}
}

func (c *Client) post(ctx context.Context, m *push.Message, body []byte, token string) *push.Error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/3/device/"+url.PathEscape(m.Token), bytes.NewReader(body))
	if err != nil {
		return &push.Error{Kind: push.Permanent, Err: fmt.Errorf("apns: %w", err)}
	}
	h := req.Header
	h.Set("authorization", "bearer "+token)
	h.Set("apns-push-type", "alert")
	h.Set("apns-topic", c.topic)
	h.Set("apns-priority", "5")
	if m.High {
		h.Set("apns-priority", "10")
	}
	h.Set("apns-expiration", strconv.FormatInt(m.Expires.Unix(), 10))
	if m.CollapseID != "" {
		h.Set("apns-collapse-id", m.CollapseID)
	}
	h.Set("content-type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return &push.Error{Kind: push.Temporary, Err: fmt.Errorf("apns: send: %w", err)}
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	e := classify(res.StatusCode, answer)
	e.RetryAfter = push.RetryAfter(res.Header, c.now())
	return e
}

// classify reads APNs' error answer: {"reason": ..., "timestamp": ms}.
func classify(status int, answer []byte) *push.Error {
	var doc struct {
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp"`
	}
	_ = json.Unmarshal(answer, &doc)
	e := &push.Error{Status: status, Reason: doc.Reason}
	if e.Reason == "" {
		e.Reason = http.StatusText(status)
	}
	switch {
	case status == http.StatusGone:
		e.Kind = push.Dead
		if doc.Timestamp > 0 {
			e.Since = time.UnixMilli(doc.Timestamp).UTC()
		}
	case status == http.StatusBadRequest && doc.Reason == "BadDeviceToken":
		e.Kind = push.Dead
	case status == http.StatusTooManyRequests || status >= 500:
		e.Kind = push.Temporary
	case status == http.StatusForbidden:
		// Our provider token or key (ExpiredProviderToken too young to
		// renew, InvalidProviderToken): the operator's to fix, not the
		// recipient's, so the delivery waits for it.
		e.Kind = push.Temporary
	default: // BadCollapseId, PayloadTooLarge, DeviceTokenNotForTopic, ...
		e.Kind = push.Permanent
	}
	return e
}
