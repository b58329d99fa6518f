// Package push holds what the mobile push clients (fcm, apns) share: the
// message they send, how a failed send is classified, the cut of long
// texts to the services' 4 KB payload limit at a character boundary, and
// the HTTP/2 client they send with.
package push

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rivo/uniseg"
)

// MaxPayload is the largest payload both FCM and APNs accept for a
// notification, in bytes.
const MaxPayload = 4096

// Message is one notification to one device token.
type Message struct {
	Token string
	Title string
	Body  string
	URL   string // opened when the notification is tapped; "" for none
	Type  string // the event type key, e.g. task.assigned
	ID    string // the notification's id in Roster
	// High asks for immediate delivery, waking the device (APNs priority
	// 10, FCM high); otherwise the service may batch it to save power.
	High bool
	// CollapseID makes a repeat of the same message replace the one
	// shown instead of adding a second (a retry after a lost answer).
	CollapseID string
	// Expires is when the push service drops the message if the device
	// has not taken it by then.
	Expires time.Time
}

// Kind classifies a failed send.
type Kind int

// Kinds of failure.
const (
	Temporary Kind = iota // try again later
	Permanent             // this message cannot be sent; the token stays
	Dead                  // the token is gone for good: forget the device
)

// Error is a failed send, classified.
type Error struct {
	Kind Kind
	// Status and Reason are what the service answered: the HTTP status
	// and its error code (UNREGISTERED, BadDeviceToken, ...).
	Status int
	Reason string
	// RetryAfter is the wait the service asked for, 0 for none.
	RetryAfter time.Duration
	// Since is, for a dead APNs token, when the service last knew it was
	// invalid (its 410 timestamp); a device registered after that is
	// alive again. Zero when the service did not say.
	Since time.Time
	Err   error // a transport failure, when there was no answer
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("push service answered %d %s", e.Status, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns err as an *Error; an unclassified error is temporary.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Temporary, Err: err}
}

// MaxRetryAfter bounds what RetryAfter reads: a count of seconds past it
// (9227000000 overflowed a Duration into a negative wait) means as much.
const MaxRetryAfter = 365 * 24 * time.Hour

// RetryAfter reads a Retry-After header (seconds or an HTTP date), at most
// MaxRetryAfter; 0 when absent or unreadable. Only HTTP's optional
// whitespace (space, tab) around the value is ignored, not every Unicode
// space: "\u00851" is no count of seconds.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.Trim(h.Get("Retry-After"), " \t")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
		return time.Duration(min(s, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// Ellipsis ends a text that was cut.
const Ellipsis = "…"

// Cut returns s when it is at most max bytes long, else its longest
// prefix of whole grapheme clusters (user-perceived characters, UAX #29)
// that fits in max bytes with Ellipsis after it. So a cut never splits a
// UTF-8 sequence, a letter from its combining accents, an emoji ZWJ
// sequence or the two regional indicators of a flag. Trailing spaces
// before the ellipsis are dropped.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	room := max - len(Ellipsis)
	if room <= 0 {
		return ""
	}
	end, rest, state := 0, s, -1
	for len(rest) > 0 {
		var cluster string
		cluster, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if end+len(cluster) > room {
			break
		}
		end += len(cluster)
	}
	return strings.TrimRight(s[:end], " \t\r\n") + Ellipsis
}

// Fit cuts body, then title if it must, so that size(title, body), the
// encoded payload's length, is at most limit bytes. The cut is found by
// bisection on the encoded size, so escaping (a quote or a control
// character takes more room encoded than in the text) cannot push a
// payload over the limit or cut more than needed.
func Fit(title, body string, limit int, size func(title, body string) int) (string, string, error) {
	if size(title, body) <= limit {
		return title, body, nil
	}
	if size(title, "") <= limit {
		return title, longest(body, func(b string) bool { return size(title, b) <= limit }), nil
	}
	if size("", "") <= limit {
		return longest(title, func(t string) bool { return size(t, "") <= limit }), "", nil
	}
	return "", "", fmt.Errorf("payload is over the %d-byte limit without any text", limit)
}

// longest returns the longest cut of s that fits, given that the empty
// one does and s itself does not.
func longest(s string, fits func(string) bool) string {
	lo, hi := 0, len(s) // Cut(s, lo) fits, Cut(s, hi) does not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fits(Cut(s, mid)) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return Cut(s, lo)
}

// ClientConfig is what a push client's HTTP client is built from.
type ClientConfig struct {
	// RootCAs are trusted for the service's TLS certificate; nil for the
	// system's. Tests trust their local server's certificate here.
	RootCAs *x509.CertPool
	// Timeout bounds one request; default 30 s.
	Timeout time.Duration
}

// NewHTTPClient returns a client speaking HTTP/2 over TLS that keeps its
// connections: every send of a provider reuses them (APNs asks providers
// to keep connections open rather than open one per notification).
func NewHTTPClient(c ClientConfig) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConns = 100
	t.MaxIdleConnsPerHost = 100
	t.IdleConnTimeout = 5 * time.Minute
	t.TLSClientConfig = &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return &http.Client{Transport: t, Timeout: c.Timeout}
}
