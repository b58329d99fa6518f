package mobile

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/secrets"
	"roster/internal/store"
)

// Limits of what the app registers.
const (
	MaxTokenBytes      = 1024 // FCM tokens are about 160 bytes, APNs' 64 hex digits
	MaxAppVersionBytes = 64
)

// Devices is the rules of registering the mobile app's devices, shared by
// the API (the app) and the security page (the list and its remove
// buttons).
type Devices struct {
	db  *store.DB
	box *secrets.Box
}

// NewDevices returns the device rules; tokens are sealed with box.
func NewDevices(db *store.DB, box *secrets.Box) *Devices {
	return &Devices{db: db, box: box}
}

// RegisterInput is what the app sends.
type RegisterInput struct {
	Platform   string // android or ios
	Token      string // the push token of FCM or APNs
	AppVersion string
	Locale     string // a language tag; matched to a supported language
}

// Register records the device for u. The same token registered again
// (by u or by anyone else) updates its one row: a phone that changes
// hands, or an app signed into another account, moves the device to the
// last person who registered it, in their workspace. Bad input is
// core.EINVALID with field errors and changes nothing.
func (d *Devices) Register(ctx context.Context, u *core.User, in RegisterInput) (*core.MobileDevice, error) {
	dev, err := d.validate(u, in)
	if err != nil {
		return nil, err
	}
	if err := d.db.Writer().RegisterMobileDevice(ctx, dev); err != nil {
		return nil, err
	}
	return dev, nil
}

func (d *Devices) validate(u *core.User, in RegisterInput) (*core.MobileDevice, error) {
	var v core.Invalid
	if in.Platform != core.PlatformAndroid && in.Platform != core.PlatformIOS {
		v.Add("platform", i18n.Key("mobile.error.platform"), nil)
	}
	switch {
	case in.Token == "":
		v.Add("token", i18n.Key("mobile.error.token_required"), nil)
	case len(in.Token) > MaxTokenBytes:
		v.Add("token", i18n.Key("errors.field.too_long"), map[string]any{"Count": MaxTokenBytes})
	case !tokenChars(in.Token):
		v.Add("token", i18n.Key("mobile.error.token_invalid"), nil)
	}
	switch {
	case len(in.AppVersion) > MaxAppVersionBytes:
		v.Add("app_version", i18n.Key("errors.field.too_long"), map[string]any{"Count": MaxAppVersionBytes})
	case !printable(in.AppVersion):
		v.Add("app_version", i18n.Key("mobile.error.app_version"), nil)
	}
	locale := ""
	if in.Locale != "" {
		var ok bool
		if locale, ok = i18n.Match(in.Locale); !ok || len(in.Locale) > 35 {
			v.Add("locale", i18n.Key("mobile.error.locale"), nil)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	provider, token := ProviderOf(in.Platform, in.Token)
	return &core.MobileDevice{WorkspaceID: u.WorkspaceID, UserID: u.ID, Platform: in.Platform, Provider: provider, Token: token,
		TokenHash: d.tokenHash(in.Platform, token), TokenSealed: d.box.Seal([]byte(token)), AppVersion: in.AppVersion, Locale: locale}, nil
}

// tokenHash keys a token: unique per platform, and not a way to test a
// guessed token against a stolen database.
func (d *Devices) tokenHash(platform, token string) []byte {
	return d.box.MAC("mobile-device:" + platform + ":" + token)
}

// ProviderOf says which push service a token belongs to, and the token
// as it is sent: Android tokens are FCM's; an iOS token of hexadecimal
// digits only is the app's own APNs device token (kept in lower case),
// any other iOS token an FCM registration token (an iOS app built with
// the Firebase SDK).
func ProviderOf(platform, token string) (provider, normalized string) {
	if platform == core.PlatformIOS && isHex(token) {
		return core.ProviderAPNs, strings.ToLower(token)
	}
	return core.ProviderFCM, token
}

func isHex(s string) bool {
	if len(s) < 32 || len(s)%2 != 0 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// tokenChars: FCM tokens are base64url with ':' (and sometimes '.'),
// APNs tokens hexadecimal; nothing else goes into a URL path or a log.
func tokenChars(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// List returns u's devices, the last registered first, tokens left sealed.
func (d *Devices) List(ctx context.Context, u *core.User) ([]*core.MobileDevice, error) {
	return d.db.Reader().MobileDevices(ctx, u.WorkspaceID, u.ID)
}

// Remove forgets one of u's devices; another person's device, or one of
// another workspace, does not exist for u (core.ErrNotFound).
func (d *Devices) Remove(ctx context.Context, u *core.User, id int64) error {
	ok, err := d.db.Writer().DeleteMobileDevice(ctx, u.WorkspaceID, u.ID, id)
	if err != nil {
		return err
	}
	if !ok {
		return core.ErrNotFound
	}
	return nil
}

// open fills in dev.Token from its sealed copy.
func (d *Devices) open(dev *core.MobileDevice) error {
	t, err := d.box.Open(dev.TokenSealed)
	if err != nil {
		return errors.Join(errors.New("open a device token"), err)
	}
	dev.Token = string(t)
	return nil
}
