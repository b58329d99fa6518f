package pushtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FCM is a local FCM HTTP v1 server with its OAuth2 token server.
type FCM struct {
	script
	URL         string         // the API's base URL (--fcm-endpoint)
	TokenURL    string         // the token server, the credentials' token_uri
	Credentials []byte         // a service account's JSON key file
	RootCAs     *x509.CertPool // trusts both servers
	Cert        *x509.Certificate
	Project     string
	Email       string // the service account's

	key         *rsa.PrivateKey
	tmu         sync.Mutex
	tokens      map[string]time.Time // access token → expiry
	tokenAsked  int
	TokenTTL    time.Duration // lifetime of issued tokens; default 1 h
	RejectToken string        // an issued access token answered 401 (revoked)
}

// Scope FCM tokens are issued for.
const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

var ttlRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?s$`)

// NewFCM starts the servers and writes credentials that point at them.
func NewFCM(t testing.TB) *FCM {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &FCM{Project: "roster-test", Email: "roster@roster-test.iam.gserviceaccount.com", key: key,
		tokens: map[string]time.Time{}, TokenTTL: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("POST /v1/projects/{project}/{send}", f.send)
	srv, pool := startTLS(t, mux, &f.script)
	f.URL, f.TokenURL, f.RootCAs, f.Cert = srv.URL, srv.URL+"/token", pool, srv.Certificate()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f.Credentials, _ = json.Marshal(map[string]string{
		"type": "service_account", "project_id": f.Project, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": f.Email, "client_id": "1", "token_uri": f.TokenURL,
	})
	return f
}

// TokenRequests is how many access tokens were asked for.
func (f *FCM) TokenRequests() int {
	f.tmu.Lock()
	defer f.tmu.Unlock()
	return f.tokenAsked
}

// token is the OAuth2 token endpoint of the JWT bearer flow (RFC 7523):
// the assertion must be signed with the service account's key, by it, for
// this endpoint and the messaging scope.
func (f *FCM) token(w http.ResponseWriter, r *http.Request) {
	f.tmu.Lock()
	f.tokenAsked++
	f.tmu.Unlock()
	if r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		f.violate("token: grant_type %q", r.PostFormValue("grant_type"))
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.PostFormValue("assertion"), claims, func(*jwt.Token) (any, error) { return &f.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.Email), jwt.WithAudience(f.TokenURL), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil || claims["scope"] != fcmScope {
		f.violate("token: assertion refused: %v (scope %v)", err, claims["scope"])
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "ya29." + hex.EncodeToString(b)
	f.tmu.Lock()
	f.tokens[tok] = time.Now().Add(f.TokenTTL)
	f.tmu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(f.TokenTTL / time.Second)})
}

func fcmError(w http.ResponseWriter, a Answer) {
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	status := map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
		429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[a.Status]
	writeJSON(w, a.Status, map[string]any{"error": map[string]any{"code": a.Status, "message": "test answer", "status": status,
		"details": []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": a.Reason}}}})
}

// send is messages:send: it checks the bearer token and the message.
func (f *FCM) send(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("project") != f.Project || r.PathValue("send") != "messages:send" {
		f.violate("send: path %s", r.URL.Path)
		fcmError(w, Answer{Status: 404, Reason: ""})
		return
	}
	if r.ProtoMajor != 2 {
		f.violate("send: %s, not HTTP/2", r.Proto)
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.tmu.Lock()
	exp, issued := f.tokens[tok]
	f.tmu.Unlock()
	if !ok || !issued || time.Now().After(exp) || tok == f.RejectToken {
		if tok != f.RejectToken || tok == "" {
			f.violate("send: bearer %q not issued or expired", tok)
		}
		fcmError(w, Answer{Status: 401})
		return
	}
	body, _ := io.ReadAll(r.Body)
	var doc struct {
		Message struct {
			Token        string            `json:"token"`
			Notification map[string]string `json:"notification"`
			Data         map[string]string `json:"data"`
			Android      struct {
				Priority    string `json:"priority"`
				CollapseKey string `json:"collapse_key"`
				TTL         string `json:"ttl"`
			} `json:"android"`
		} `json:"message"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(body) > 4096 {
		f.violate("send: body of %d bytes: %v", len(body), err)
		fcmError(w, Answer{Status: 400, Reason: "INVALID_ARGUMENT"})
		return
	}
	m := doc.Message
	if m.Token == "" || m.Notification["title"] == "" || (m.Android.Priority != "HIGH" && m.Android.Priority != "NORMAL") ||
		!ttlRE.MatchString(m.Android.TTL) || m.Data["id"] == "" || m.Data["type"] == "" || r.Header.Get("Content-Type") == "" {
		f.violate("send: message shape: %s", body)
		fcmError(w, Answer{Status: 400, Reason: "INVALID_ARGUMENT"})
		return
	}
	if a, ok := f.answer(m.Token); ok {
		time.Sleep(a.Delay)
		if a.Status != 0 && a.Status != http.StatusOK {
			fcmError(w, a)
			return
		}
	}
	var payload map[string]any
	_ = json.Unmarshal(body, &payload)
	f.accept(Received{Token: m.Token, Header: r.Header.Clone(), Body: body, Payload: payload})
	writeJSON(w, http.StatusOK, map[string]string{"name": "projects/" + f.Project + "/messages/0:1"})
}
