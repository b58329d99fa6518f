package webpush

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"roster/internal/core"
	"roster/internal/secrets"
	"roster/internal/store"
)

// VAPID token lifetimes (RFC 8292): a token is made valid for JWTLifetime
// (push services refuse more than 24 hours) and reused for one push
// service while more than JWTMinRemaining of it is left.
const (
	JWTLifetime     = 12 * time.Hour
	JWTMinRemaining = time.Hour
)

// loadKeys returns the installation's VAPID key, made and stored on the
// first start: the insert does nothing when another instance stored one
// first, and both then read the stored one back.
func loadKeys(ctx context.Context, db *store.DB, box *secrets.Box) (*ecdsa.PrivateKey, error) {
	q := db.Writer()
	_, sealed, err := q.VAPIDKeys(ctx)
	if errors.Is(err, core.ErrNotFound) {
		if err := insertKeys(ctx, q, box); err != nil {
			return nil, err
		}
		_, sealed, err = q.VAPIDKeys(ctx)
	}
	if err != nil {
		return nil, err
	}
	raw, err := box.Open(sealed)
	if err != nil {
		return nil, errors.Join(errors.New("webpush: open the VAPID key (was the secret key changed?)"), err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("webpush: read the VAPID key: %w", err)
	}
	return key, nil
}

// insertKeys makes a key pair and stores it, unless one is stored.
func insertKeys(ctx context.Context, q *store.Q, box *secrets.Box) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("make a VAPID key: %w", err)
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return err
	}
	priv, err := key.Bytes()
	if err != nil {
		return err
	}
	return q.InsertVAPIDKeys(ctx, base64.RawURLEncoding.EncodeToString(pub), box.Seal(priv))
}

// signer makes the VAPID Authorization header of each push service and
// keeps it while it has more than JWTMinRemaining to live.
type signer struct {
	key     *ecdsa.PrivateKey
	public  string // base64url of the uncompressed public key
	subject string
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cachedAuth // by audience
	signs int                   // how many JWTs were signed (tests)
}

// maxAudiences bounds the token cache; real installations see a handful
// of push services.
const maxAudiences = 1000

type cachedAuth struct {
	header  string
	expires time.Time
}

// audience is the origin of a push endpoint: scheme://host[:port].
func audience(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("webpush: endpoint is not a URL")
	}
	return u.Scheme + "://" + u.Host, nil
}

// authorization returns "vapid t=<JWT>, k=<public key>" for endpoint.
func (s *signer) authorization(endpoint string) (string, error) {
	aud, err := audience(endpoint)
	if err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[aud]; ok && c.expires.Sub(now) > JWTMinRemaining {
		return c.header, nil
	}
	exp := now.Add(JWTLifetime)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"aud": aud, "exp": exp.Unix(), "sub": s.subject}).SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("webpush: sign the VAPID token: %w", err)
	}
	s.signs++
	if len(s.cache) >= maxAudiences {
		clear(s.cache) // endpoints are subscribers' input: bound the cache
	}
	h := "vapid t=" + tok + ", k=" + s.public
	// exp is whole seconds: count from the truncated value.
	s.cache[aud] = cachedAuth{header: h, expires: time.Unix(exp.Unix(), 0)}
	return h, nil
}
