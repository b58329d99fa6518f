package pushtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// APNs is a local APNs provider API server.
type APNs struct {
	script
	URL     string
	RootCAs *x509.CertPool
	Cert    *x509.Certificate
	Key     []byte // the .p8 file
	KeyID   string
	TeamID  string
	Topic   string
	// Now is the server's clock for the provider token's age (Apple
	// refuses one older than an hour); time.Now when nil.
	Now func() time.Time

	key      *ecdsa.PrivateKey
	tmu      sync.Mutex
	jwtsSeen map[string]bool
	tooOld   int
}

var hexTokenRE = regexp.MustCompile(`^[0-9a-f]{32,200}$`)

// NewAPNs starts the server and makes a key for it.
func NewAPNs(t testing.TB) *APNs {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	a := &APNs{Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), KeyID: "ABC123DEFG", TeamID: "TEAM123456",
		Topic: "com.example.roster", key: key, jwtsSeen: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /3/device/{token}", a.send)
	srv, pool := startTLS(t, mux, &a.script)
	a.URL, a.RootCAs, a.Cert = srv.URL, pool, srv.Certificate()
	return a
}

// ProviderTokens is how many different provider tokens were used.
func (a *APNs) ProviderTokens() int {
	a.tmu.Lock()
	defer a.tmu.Unlock()
	return len(a.jwtsSeen)
}

// TooOld is how many sends came with a provider token over an hour old
// (answered ExpiredProviderToken).
func (a *APNs) TooOld() int {
	a.tmu.Lock()
	defer a.tmu.Unlock()
	return a.tooOld
}

func apnsError(w http.ResponseWriter, an Answer) {
	if an.RetryAfter != "" {
		w.Header().Set("Retry-After", an.RetryAfter)
	}
	body := map[string]any{"reason": an.Reason}
	if !an.Timestamp.IsZero() {
		body["timestamp"] = an.Timestamp.UnixMilli()
	}
	w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000000")
	writeJSON(w, an.Status, body)
}

func (a *APNs) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *APNs) send(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		a.violate("send: %s, not HTTP/2", r.Proto)
	}
	token := r.PathValue("token")
	raw, ok := strings.CutPrefix(r.Header.Get("authorization"), "bearer ")
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &a.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(a.TeamID))
	if !ok || err != nil || parsed.Header["kid"] != a.KeyID {
		a.violate("send: provider token refused: %v", err)
		apnsError(w, Answer{Status: 403, Reason: "InvalidProviderToken"})
		return
	}
	iat, _ := claims["iat"].(float64)
	if age := a.now().Sub(time.Unix(int64(iat), 0)); age > time.Hour || age < -time.Minute {
		a.tmu.Lock()
		a.tooOld++
		a.tmu.Unlock()
		apnsError(w, Answer{Status: 403, Reason: "ExpiredProviderToken"})
		return
	}
	a.tmu.Lock()
	a.jwtsSeen[raw] = true
	a.tmu.Unlock()
	h := r.Header
	prio, exp := h.Get("apns-priority"), h.Get("apns-expiration")
	_, expErr := strconv.ParseInt(exp, 10, 64)
	if h.Get("apns-push-type") != "alert" || h.Get("apns-topic") != a.Topic || (prio != "10" && prio != "5") || expErr != nil ||
		len(h.Get("apns-collapse-id")) > 64 {
		a.violate("send: headers %v", h)
		apnsError(w, Answer{Status: 400, Reason: "BadTopic"})
		return
	}
	if !hexTokenRE.MatchString(token) {
		a.violate("send: token %q", token)
		apnsError(w, Answer{Status: 400, Reason: "BadDeviceToken"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil || len(body) > 4096 {
		a.violate("send: payload of %d bytes: %v", len(body), err)
		apnsError(w, Answer{Status: 413, Reason: "PayloadTooLarge"})
		return
	}
	aps, _ := payload["aps"].(map[string]any)
	alert, _ := aps["alert"].(map[string]any)
	if alert == nil || alert["title"] == nil || alert["body"] == nil {
		a.violate("send: payload without aps.alert: %s", body)
		apnsError(w, Answer{Status: 400, Reason: "PayloadEmpty"})
		return
	}
	if an, ok := a.answer(token); ok {
		time.Sleep(an.Delay)
		if an.Status != 0 && an.Status != http.StatusOK {
			apnsError(w, an)
			return
		}
	}
	a.accept(Received{Token: token, Header: h.Clone(), Body: body, Payload: payload})
	w.Header().Set("apns-id", "11111111-1111-1111-1111-111111111111")
	w.WriteHeader(http.StatusOK)
}
