// Package pushtest runs local push services for tests: an FCM HTTP v1
// server with its OAuth2 token server, and an APNs server, both over
// HTTP/2 with TLS. They check what the real services check (the bearer
// token issued after a verified JWT assertion, the ES256 provider token,
// the request's shape) and answer as the real ones do, including the
// failures a test asks for.
package pushtest

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Answer is a scripted reply to one send.
type Answer struct {
	Status     int
	Reason     string        // FCM error code or APNs reason
	RetryAfter string        // Retry-After header, "" for none
	Timestamp  time.Time     // APNs 410 timestamp, zero for none
	Delay      time.Duration // wait before answering
}

// Received is one accepted message.
type Received struct {
	Token   string
	Header  http.Header
	Body    []byte
	Payload map[string]any // Body decoded
}

// script is what a server answers, shared by both.
type script struct {
	mu         sync.Mutex
	next       []Answer
	byToken    map[string]Answer // answered to every send to the token
	received   []Received
	violations []string
	attempts   int
	conns      atomic.Int64
	outage     *Answer // answered to every send while set
}

// Conns is how many connections clients opened to the server.
func (s *script) Conns() int { return int(s.conns.Load()) }

func (s *script) answer(token string) (Answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.outage != nil {
		return *s.outage, true
	}
	if a, ok := s.byToken[token]; ok {
		return a, true
	}
	if len(s.next) > 0 {
		a := s.next[0]
		s.next = s.next[1:]
		return a, true
	}
	return Answer{}, false
}

func (s *script) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

func (s *script) accept(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, r)
}

// Then queues answers for the next sends, in order; a send with none
// queued succeeds.
func (s *script) Then(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = append(s.next, answers...)
}

// Outage answers every send with a until Recover.
func (s *script) Outage(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = &a
}

// Recover ends an Outage.
func (s *script) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = nil
}

// Always answers every send to token with a.
func (s *script) Always(token string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byToken == nil {
		s.byToken = map[string]Answer{}
	}
	s.byToken[token] = a
}

// Received returns the messages accepted so far.
func (s *script) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Attempts is how many sends reached the server, answered or refused.
func (s *script) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Violations lists requests that broke the protocol (bad credentials,
// missing headers, a payload over 4 KB); a test fails on any.
func (s *script) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// WaitFor waits until n messages were accepted.
func (s *script) WaitFor(t testing.TB, n int, within time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := s.Received()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("push server got %d messages, want %d (violations: %v)", len(got), n, s.Violations())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startTLS starts h on HTTP/2 with TLS and returns the server and a pool
// trusting its certificate.
func startTLS(t testing.TB, h http.Handler, s *script) (*httptest.Server, *x509.CertPool) {
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
