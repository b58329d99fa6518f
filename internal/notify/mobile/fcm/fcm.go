// Package fcm sends notifications through Firebase Cloud Messaging's HTTP
// v1 API: one POST per device token to
// {endpoint}/v1/projects/{project}/messages:send, authorised by an OAuth2
// access token that golang.org/x/oauth2 obtains with the JWT flow from the
// service account's key and keeps until shortly before it expires.
package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"roster/internal/notify/mobile/push"
)

// DefaultEndpoint is FCM's base URL.
const DefaultEndpoint = "https://fcm.googleapis.com"

// Scope is the OAuth2 scope of sending messages.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// Config is what a Client is built from.
type Config struct {
	// Credentials is the service account's JSON key file, as downloaded
	// from the Firebase console. Its token_uri is where access tokens are
	// asked for (tests point it at a local server).
	Credentials []byte
	// Endpoint is the API's base URL; DefaultEndpoint when empty.
	Endpoint string
	HTTP     push.ClientConfig
	Now      func() time.Time // for Retry-After dates; time.Now when nil
}

// Client sends FCM messages. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	url     string // the project's messages:send
	project string
	now     func() time.Time
	newTS   func() oauth2.TokenSource

	mu     sync.Mutex
	tokens oauth2.TokenSource
}

// New reads the service account and prepares the client; nothing is
// fetched until the first send.
func New(c Config) (*Client, error) {
	var account struct {
		ProjectID   string `json:"project_id"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(c.Credentials, &account); err != nil {
		return nil, fmt.Errorf("fcm: read service account: %w", err)
	}
	if account.ProjectID == "" || account.ClientEmail == "" || account.PrivateKey == "" {
		return nil, errors.New("fcm: the service account JSON needs project_id, client_email and private_key")
	}
	conf, err := google.JWTConfigFromJSON(c.Credentials, Scope)
	if err != nil {
		return nil, fmt.Errorf("fcm: read service account: %w", err)
	}
	endpoint := strings.TrimSuffix(c.Endpoint, "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "http://") {
		return nil, fmt.Errorf("fcm: endpoint %q is not an http(s) URL", c.Endpoint)
	}
	cl := &Client{http: push.NewHTTPClient(c.HTTP), project: account.ProjectID, now: c.Now,
		url: endpoint + "/v1/projects/" + account.ProjectID + "/messages:send"}
	if cl.now == nil {
		cl.now = time.Now
	}
	// The token request goes through the same client (and trusted roots).
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, cl.http)
	// conf.TokenSource is an oauth2.ReuseTokenSource: one token request,
	// then the token until shortly before it expires.
	cl.newTS = func() oauth2.TokenSource { return conf.TokenSource(tokenCtx) }
	cl.tokens = cl.newTS()
	return cl, nil
}

// Project is the Firebase project messages are sent for.
func (c *Client) Project() string { return c.project }

func (c *Client) token() (oauth2.TokenSource, *oauth2.Token, error) {
	c.mu.Lock()
	ts := c.tokens
	c.mu.Unlock()
	t, err := ts.Token()
	return ts, t, err
}

// forget drops the cached access token after FCM refused it, once for
// all the sends that used it.
func (c *Client) forget(used oauth2.TokenSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == used {
		c.tokens = c.newTS()
	}
}

type message struct {
	Token        string            `json:"token"`
	Notification notification      `json:"notification"`
	Data         map[string]string `json:"data,omitempty"`
	Android      android           `json:"android"`
	APNs         apnsConfig        `json:"apns"`
}

type notification struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

type android struct {
	Priority     string              `json:"priority"`
	CollapseKey  string              `json:"collapse_key,omitempty"`
	TTL          string              `json:"ttl"`
	Notification androidNotification `json:"notification"`
}

type androidNotification struct {
	Tag string `json:"tag,omitempty"` // a newer message with the tag replaces the one shown
}

// apnsConfig carries the APNs headers for iOS apps that receive through
// FCM.
type apnsConfig struct {
	Headers map[string]string `json:"headers"`
}

// Body is the JSON FCM is sent for m, its texts cut to fit push.MaxPayload.
func (c *Client) Body(m *push.Message) ([]byte, error) {
	ttl := max(0, int64(m.Expires.Sub(c.now())/time.Second))
	msg := message{Token: m.Token, Data: map[string]string{"type": m.Type, "id": m.ID},
		Android: android{Priority: "NORMAL", CollapseKey: m.CollapseID, TTL: strconv.FormatInt(ttl, 10) + "s",
			Notification: androidNotification{Tag: m.CollapseID}},
		APNs: apnsConfig{Headers: map[string]string{"apns-priority": "5", "apns-expiration": strconv.FormatInt(m.Expires.Unix(), 10)}}}
	if m.URL != "" {
		msg.Data["url"] = m.URL
	}
	if m.High {
		msg.Android.Priority, msg.APNs.Headers["apns-priority"] = "HIGH", "10"
	}
	if m.CollapseID != "" {
		msg.APNs.Headers["apns-collapse-id"] = m.CollapseID
	}
	encode := func(title, body string) []byte {
		msg.Notification = notification{Title: title, Body: body}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(struct {
			Message *message `json:"message"`
		}{&msg})
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	title, body, err := push.Fit(m.Title, m.Body, push.MaxPayload, func(t, b string) int { return len(encode(t, b)) })
	if err != nil {
		return nil, err
	}
	return encode(title, body), nil
}

// Send delivers m. A failure is a *push.Error: UNREGISTERED is Dead,
// INVALID_ARGUMENT and the other refusals of the message are Permanent,
// QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL and refused credentials are
// Temporary, with the Retry-After FCM asked for.
func (c *Client) Send(ctx context.Context, m *push.Message) error {
	body, err := c.Body(m)
	if err != nil {
		return &push.Error{Kind: push.Permanent, Err: fmt.Errorf("fcm: %w", err)}
	}
	ts, tok, err := c.token()
	if err != nil {
		return &push.Error{Kind: push.Temporary, Err: fmt.Errorf("fcm: get an access token: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return &push.Error{Kind: push.Permanent, Err: fmt.Errorf("fcm: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	tok.SetAuthHeader(req)
	res, err := c.http.Do(req)
	if err != nil {
		return &push.Error{Kind: push.Temporary, Err: fmt.Errorf("fcm: send: %w", err)}
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	e := classify(res.StatusCode, answer)
	e.RetryAfter = push.RetryAfter(res.Header, c.now())
	if res.StatusCode == http.StatusUnauthorized {
		c.forget(ts) // the next send asks for a new access token
	}
	return e
}

// classify reads FCM's error answer: google.rpc.Status with the FCM
// error code in its details.
func classify(status int, answer []byte) *push.Error {
	var doc struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
			Details []struct {
				Type      string `json:"@type"`
				ErrorCode string `json:"errorCode"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(answer, &doc)
	reason := doc.Error.Status
	for _, d := range doc.Error.Details {
		if d.ErrorCode != "" {
			reason = d.ErrorCode
		}
	}
	e := &push.Error{Status: status, Reason: reason}
	switch {
	case reason == "UNREGISTERED":
		e.Kind = push.Dead
	case reason == "QUOTA_EXCEEDED" || reason == "UNAVAILABLE" || reason == "INTERNAL":
		e.Kind = push.Temporary
	case status == http.StatusUnauthorized:
		e.Kind = push.Temporary // our access token; a new one is asked for
	case status == http.StatusTooManyRequests || status >= 500:
		e.Kind = push.Temporary
	default: // INVALID_ARGUMENT, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR, ...
		e.Kind = push.Permanent
	}
	if reason == "" {
		e.Reason = http.StatusText(status)
	}
	if doc.Error.Message != "" {
		e.Reason += ": " + doc.Error.Message
	}
	return e
}
