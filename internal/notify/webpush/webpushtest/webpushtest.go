// Package webpushtest is a local push service for tests: an HTTP server
// that takes Web Push messages as a browser vendor's service does (RFC
// 8030), checks their VAPID authorization (RFC 8292) and headers,
// decrypts them (RFC 8291, aes128gcm) with the browser-side keys it made,
// and records them. Answers can be scripted per subscription.
package webpushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxBody is the largest message a push service must accept (RFC 8030
// section 7.2: 4096 octets of encrypted payload).
const MaxBody = 4096

// Sub is a browser's subscription at the service, with the browser-side
// secrets the service uses to decrypt what it receives.
type Sub struct {
	Endpoint string
	P256dh   string // base64url, no padding
	Auth     string // base64url, no padding
	Key      *ecdh.PrivateKey
	Secret   []byte // the auth secret
}

// Push is one message the service accepted (or refused with a scripted
// answer, Status then not 201).
type Push struct {
	Sub     Sub
	Payload []byte // decrypted
	Header  http.Header
	Claims  jwt.MapClaims
	Status  int
}

type answer struct {
	status     int
	retryAfter string
}

type subState struct {
	sub   Sub
	queue []answer
	gone  bool
}

// Service is the local push service.
type Service struct {
	// URL is the server's base URL; its origin is the VAPID audience.
	URL string
	// OnPush, when set, gets every accepted message's decrypted payload.
	OnPush func(sub Sub, plaintext []byte)
	// Now is the service's clock for the JWT expiry checks.
	Now func() time.Time

	srv        *httptest.Server
	mu         sync.Mutex
	subs       map[string]*subState // by path
	received   []Push
	violations []string
	next       int
	conns      atomic.Int64
	outage     *answer // answered to every message while set
}

// NewService starts a service, closed when the test ends. Protocol
// violations fail the test at its end (see Violations).
func NewService(t testing.TB) *Service {
	s := &Service{subs: map[string]*subState{}, Now: time.Now}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.Close()
		if v := s.Violations(); len(v) > 0 {
			t.Errorf("push service: protocol violations: %v", v)
		}
	})
	return s
}

// Conns is how many connections the service accepted.
func (s *Service) Conns() int64 { return s.conns.Load() }

// NewSubscription makes a browser's key pair and auth secret and an
// endpoint on the service.
func (s *Service) NewSubscription() Sub {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	path := fmt.Sprintf("/push/%d-%s", s.next, base64.RawURLEncoding.EncodeToString(secret[:6]))
	sub := Sub{Endpoint: s.URL + path, P256dh: base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
		Auth: base64.RawURLEncoding.EncodeToString(secret), Key: key, Secret: secret}
	s.subs[path] = &subState{sub: sub}
	return sub
}

// Fail queues an answer for the next message to endpoint: status, with a
// Retry-After header when retryAfter is not "".
func (s *Service) Fail(endpoint string, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state(endpoint)
	st.queue = append(st.queue, answer{status, retryAfter})
}

// Outage makes every message answer status (with Retry-After when
// retryAfter is not "") until Recover.
func (s *Service) Outage(status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = &answer{status, retryAfter}
}

// Recover ends an Outage.
func (s *Service) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = nil
}

// Gone makes endpoint answer 410 Gone from now on (the browser
// unsubscribed).
func (s *Service) Gone(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state(endpoint).gone = true
}

func (s *Service) state(endpoint string) *subState {
	st := s.subs[strings.TrimPrefix(endpoint, s.URL)]
	if st == nil {
		panic("webpushtest: unknown endpoint")
	}
	return st
}

// Received returns the messages accepted so far (status 201) and the
// ones refused with a scripted answer.
func (s *Service) Received() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.received...)
}

// Accepted returns the payloads accepted for endpoint.
func (s *Service) Accepted(endpoint string) []Push {
	var out []Push
	for _, p := range s.Received() {
		if p.Sub.Endpoint == endpoint && p.Status == http.StatusCreated {
			out = append(out, p)
		}
	}
	return out
}

// Violations returns what broke the protocol so far. Call
// ExpectViolations to read them without failing the test.
func (s *Service) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// ResetViolations forgets the violations seen so far (a test that sent
// a bad request on purpose).
func (s *Service) ResetViolations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = nil
}

func (s *Service) violate(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	http.Error(w, msg, status)
}

func (s *Service) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.violate(w, http.StatusMethodNotAllowed, "method %s", r.Method)
		return
	}
	s.mu.Lock()
	st := s.subs[r.URL.Path]
	s.mu.Unlock()
	if st == nil {
		http.NotFound(w, r) // an endpoint the service does not know
		return
	}
	claims, err := s.checkVAPID(r.Header.Get("Authorization"))
	if err != nil {
		s.violate(w, http.StatusUnauthorized, "authorization: %v", err)
		return
	}
	if err := checkHeaders(r.Header); err != nil {
		s.violate(w, http.StatusBadRequest, "%v", err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		s.violate(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	if len(body) > MaxBody {
		s.violate(w, http.StatusRequestEntityTooLarge, "body over %d bytes", MaxBody)
		return
	}
	plain, err := Decrypt(body, st.sub.Key, st.sub.Secret)
	if err != nil {
		s.violate(w, http.StatusBadRequest, "decrypt: %v", err)
		return
	}
	p := Push{Sub: st.sub, Payload: plain, Header: r.Header.Clone(), Claims: claims, Status: http.StatusCreated}
	s.mu.Lock()
	switch {
	case st.gone:
		p.Status = http.StatusGone
	case s.outage != nil:
		p.Status = s.outage.status
		if s.outage.retryAfter != "" {
			w.Header().Set("Retry-After", s.outage.retryAfter)
		}
	case len(st.queue) > 0:
		a := st.queue[0]
		st.queue = st.queue[1:]
		p.Status = a.status
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
	}
	s.received = append(s.received, p)
	n := len(s.received)
	hook := s.OnPush
	s.mu.Unlock()
	if p.Status != http.StatusCreated {
		w.WriteHeader(p.Status)
		return
	}
	if hook != nil {
		hook(st.sub, plain)
	}
	w.Header().Set("Location", s.URL+"/message/"+strconv.Itoa(n))
	w.WriteHeader(http.StatusCreated)
}

// checkVAPID verifies "vapid t=<JWT>, k=<public key>" (RFC 8292): an
// ES256 JWT signed by k, for this service's origin, expiring in the
// future but within 24 hours (RFC 8292 section 2), with a contact.
func (s *Service) checkVAPID(h string) (jwt.MapClaims, error) {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return nil, fmt.Errorf("not a vapid scheme: %q", h)
	}
	var tok, k string
	for part := range strings.SplitSeq(rest, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "t":
			tok = value
		case "k":
			k = value
		}
	}
	raw, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil {
		return nil, fmt.Errorf("k: %v", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("k: %v", err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(s.Now), jwt.WithExpirationRequired(), jwt.WithAudience(s.URL))
	if err != nil {
		return nil, fmt.Errorf("t: %v", err)
	}
	exp, _ := claims.GetExpirationTime()
	if exp.After(s.Now().Add(12*time.Hour + time.Minute)) {
		return nil, fmt.Errorf("exp %s is more than 12 hours away", exp)
	}
	if aud, _ := claims["aud"].(string); aud != s.URL {
		return nil, fmt.Errorf("aud %q, want %q", claims["aud"], s.URL)
	}
	sub, _ := claims["sub"].(string)
	if !strings.HasPrefix(sub, "mailto:") && !strings.HasPrefix(sub, "https://") || strings.HasPrefix(sub, "mailto:mailto:") {
		return nil, fmt.Errorf("sub %q is not a mailto: or https: contact", sub)
	}
	return claims, nil
}

func checkHeaders(h http.Header) error {
	if v := h.Get("TTL"); v == "" {
		return errors.New("no TTL")
	} else if n, err := strconv.Atoi(v); err != nil || n < 0 {
		return fmt.Errorf("TTL %q", v)
	}
	if v := h.Get("Urgency"); v != "" {
		switch v {
		case "very-low", "low", "normal", "high":
		default:
			return fmt.Errorf("Urgency %q", v)
		}
	}
	if v := h.Get("Topic"); v != "" {
		if len(v) > 32 {
			return fmt.Errorf("Topic %q over 32 characters", v)
		}
		for _, c := range []byte(v) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
				return fmt.Errorf("Topic %q is not base64url", v)
			}
		}
	}
	if v := h.Get("Content-Encoding"); v != "aes128gcm" {
		return fmt.Errorf("Content-Encoding %q", v)
	}
	return nil
}

// Decrypt opens a Web Push message (RFC 8291) as the browser does: body
// is the aes128gcm content coding (RFC 8188) of one record whose key id is
// the application server's ephemeral public key; priv is the browser's
// key and auth its authentication secret. It returns the plaintext
// without padding.
func Decrypt(body []byte, priv *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("shorter than the content coding header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if rs < 18 {
		return nil, fmt.Errorf("record size %d", rs)
	}
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("key id of %d bytes, want the 65-byte sender key", idlen)
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, fmt.Errorf("sender key: %w", err)
	}
	ciphertext := body[21+idlen:]
	if len(ciphertext) > int(rs) {
		return nil, fmt.Errorf("%d bytes of records over the record size %d: Web Push allows one record", len(ciphertext), rs)
	}
	secret, err := priv.ECDH(asPub)
	if err != nil {
		return nil, fmt.Errorf("ecdh: %w", err)
	}
	info := append(append([]byte("WebPush: info\x00"), priv.PublicKey().Bytes()...), asPub.Bytes()...)
	ikm, err := hkdf.Key(sha256.New, secret, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	// Padding: zeros after a delimiter, 2 for the last (only) record.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:end], nil
}
