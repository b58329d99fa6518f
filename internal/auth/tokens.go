package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// APITokenPrefix marks API tokens so a bearer value tells its kind and
// secret scanners can spot leaked ones.
const APITokenPrefix = "rst_"

// NewToken returns a fresh 256-bit random token, URL-safe.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the stored form of a token: its SHA-256. Tokens carry
// 256 bits of entropy, so a fast hash is enough.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// IsAPIToken reports whether a bearer value is an API token rather than a
// session token.
func IsAPIToken(token string) bool { return strings.HasPrefix(token, APITokenPrefix) }

// CookieName is the browser session cookie.
const CookieName = "roster_session"

// SessionCookie is the browser's session cookie holding token until expires;
// an empty token and a zero expiry clear it. Pages and API build it here
// alone, so both set the same flags (Secure under an https base URL).
func SessionCookie(token string, expires time.Time, secure bool) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: token, Path: "/", Expires: expires, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode}
	if token == "" {
		c.Expires, c.MaxAge = time.Time{}, -1
	}
	return c
}
