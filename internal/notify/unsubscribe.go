package notify

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"roster/internal/core"
)

// One-click unsubscribe (RFC 8058): every notification email but a
// security notice carries a link that turns email off for its type and
// person. The link is single purpose and unguessable: the person and type
// in clear, and a MAC of both under a key derived from the secret key, so
// it needs no storage and cannot be made for anyone else or another type.

// ErrBadUnsubscribe is a link that was not made by this Roster.
var ErrBadUnsubscribe = core.Errorf(core.ENOTFOUND, "errors.notify.unsubscribe_link")

func unsubscribeMAC(mac func(string) []byte, userID int64, typeKey string) string {
	sum := mac(fmt.Sprintf("notify.unsubscribe:%d:%s", userID, typeKey))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// UnsubscribeToken is the token of the one-click link for userID and
// typeKey (or DigestKey, for the daily digest), signed with mac
// (secrets.Box.MAC); "" for a mandatory type, which cannot be turned off.
func UnsubscribeToken(mac func(string) []byte, userID int64, typeKey string) string {
	_, ok := unsubscribable(typeKey)
	if !ok || mac == nil {
		return ""
	}
	return strconv.FormatInt(userID, 10) + "." + base64.RawURLEncoding.EncodeToString([]byte(typeKey)) + "." +
		unsubscribeMAC(mac, userID, typeKey)
}

// ReadUnsubscribe checks token and returns the person and the type's name
// key for the confirmation page; nothing changes.
func (s *Service) ReadUnsubscribe(ctx context.Context, token string) (*core.User, *Type, error) {
	userID, t, err := s.parseUnsubscribe(token)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.db.Reader().User(ctx, userID)
	if err != nil {
		return nil, nil, ErrBadUnsubscribe
	}
	return u, t, nil
}

// unsubscribable is the type a one-click link may name: one that can be
// turned off, or the digest's pseudo type.
func unsubscribable(key string) (*Type, bool) {
	if key == DigestKey {
		return digestType, true
	}
	t, ok := TypeOf(key)
	return t, ok && !t.Mandatory
}

// Unsubscribe turns email off for the token's person and type, at once,
// through the same save as the settings page. The digest's link turns
// email off for every type that can be turned off: no digest comes again
// until the person turns some back on.
func (s *Service) Unsubscribe(ctx context.Context, token string) (*core.User, *Type, error) {
	u, t, err := s.ReadUnsubscribe(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	cells := map[string]map[string]bool{t.Key: {string(Email): false}}
	if t == digestType {
		cells = map[string]map[string]bool{}
		for _, other := range catalogue {
			if !other.Mandatory {
				cells[other.Key] = map[string]bool{string(Email): false}
			}
		}
	}
	if _, err := s.SaveSettings(ctx, u, SettingsInput{Cells: cells}); err != nil {
		return nil, nil, err
	}
	return u, t, nil
}

func (s *Service) parseUnsubscribe(token string) (int64, *Type, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || s.mac == nil {
		return 0, nil, ErrBadUnsubscribe
	}
	userID, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || userID <= 0 {
		return 0, nil, ErrBadUnsubscribe
	}
	key, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0, nil, ErrBadUnsubscribe
	}
	t, ok := unsubscribable(string(key))
	if !ok {
		return 0, nil, ErrBadUnsubscribe
	}
	if !hmac.Equal([]byte(parts[2]), []byte(unsubscribeMAC(s.mac, userID, t.Key))) {
		return 0, nil, ErrBadUnsubscribe
	}
	return userID, t, nil
}
