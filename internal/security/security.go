// Package security holds two-step verification: authenticator apps (TOTP,
// RFC 6238), emailed codes, backup codes, the second step of sign-in, and
// admin resets. The web page and the API both call these functions.
package security

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/events"
	"roster/internal/mail"
	"roster/internal/secrets"
	"roster/internal/store"
)

// Lifetimes and limits.
const (
	ChallengeTTL      = 10 * time.Minute // a sign-in waiting for its second step
	TOTPSetupTTL      = 10 * time.Minute // an authenticator key shown, waiting for its first code
	EmailCodeTTL      = 10 * time.Minute
	EmailCodeTries    = 5
	ChallengeTries    = 10 // wrong codes of any kind before a sign-in must start over
	ResendAfter       = 60 * time.Second
	BackupCodeCount   = 10
	totpPeriod        = 30
	purposeLogin      = "login"
	purposeEnableMail = "enable_email"
	purposeManage     = "manage" // a code mailed to confirm turning a method off or renewing backup codes
)

// Service applies the two-step verification rules.
type Service struct {
	db   *store.DB
	auth *auth.Service
	box  *secrets.Box
	mail mail.Enqueuer // codes: transactional mail
	// events records every change; its notices follow from there.
	events *events.Recorder
	// checked, when set, is called once per code that reaches a comparison,
	// after the methods are read (tests count and line up attempts);
	// emailCompared once per comparison with an emailed code.
	checked, emailCompared func()
	// policies caches each workspace's policy (read by every request's
	// gate); callers must not change what they get.
	policies *store.Cache[int64, *Policy]
}

// NewService returns the security service.
func NewService(db *store.DB, authSvc *auth.Service, box *secrets.Box, mailer mail.Enqueuer, rec *events.Recorder) *Service {
	return &Service{db: db, auth: authSvc, box: box, mail: mailer, events: rec,
		policies: store.NewCache[int64, *Policy](db, 100_000, time.Minute, store.WorkspaceKind)}
}

// Errors.
var (
	ErrWebOnly        = core.Errorf(core.EFORBIDDEN, "errors.two_factor_web_only")
	errNotEnabled     = core.Errorf(core.ECONFLICT, "errors.two_factor_not_enabled")
	errAlreadyEnabled = core.Errorf(core.ECONFLICT, "errors.two_factor_already_enabled")
	errNoSetup        = core.Errorf(core.ECONFLICT, "errors.two_factor_setup_missing")
	errOwnReset       = core.Errorf(core.EFORBIDDEN, "errors.two_factor_own_reset")
	errChallenge      = core.Errorf(core.ENOTFOUND, "errors.challenge_invalid")
)

func codeError(field, key string) error {
	return &core.Error{Code: core.EINVALID, Key: "errors.invalid", Fields: []core.FieldError{{Field: field, Key: key}}}
}

// Status is what the security page shows.
type Status struct {
	TOTP            bool
	Email           bool
	BackupCodesLeft int
	// PendingTOTP is set while an authenticator set-up waits for its first
	// code (PendingTOTPSetup shows its key again); PendingEmail while
	// emailed codes wait for the code just mailed. Each lasts until it is
	// confirmed, cancelled (CancelSetup) or expires. Only Service.Status
	// fills them.
	PendingTOTP, PendingEmail *Pending

	totpStarted time.Time // an authenticator key not yet confirmed, created then
	emailSetup  bool      // emailed codes started and not yet confirmed
}

// Pending is a set-up started and not yet confirmed.
type Pending struct {
	Method    core.TwoFactorMethod
	ExpiresAt time.Time
}

// Enabled reports whether any method is on.
func (s *Status) Enabled() bool { return s.TOTP || s.Email }

// Methods lists the methods a second step may use.
func (s *Status) Methods() []core.TwoFactorMethod {
	var out []core.TwoFactorMethod
	if s.TOTP {
		out = append(out, core.MethodTOTP)
	}
	if s.Email {
		out = append(out, core.MethodEmail)
	}
	if s.BackupCodesLeft > 0 {
		out = append(out, core.MethodBackupCode)
	}
	return out
}

// Status returns the user's methods, backup codes left and the set-ups
// waiting for their code.
func (s *Service) Status(ctx context.Context, user *core.User) (*Status, error) {
	q := s.db.Reader()
	st, err := status(ctx, q, user.ID)
	if err != nil {
		return nil, err
	}
	now := s.db.Now()
	if !st.totpStarted.IsZero() {
		if exp := st.totpStarted.Add(TOTPSetupTTL); now.Before(exp) {
			st.PendingTOTP = &Pending{Method: core.MethodTOTP, ExpiresAt: exp}
		}
	}
	if st.emailSetup {
		c, err := q.ChallengeByTokenHash(ctx, s.enableEmailToken(user.ID))
		switch {
		case err == nil:
			// It lasts as long as the last code sent (a new one renews it).
			if open := c.DoneAt.IsZero() && now.Before(c.EmailExpiresAt); open {
				st.PendingEmail = &Pending{Method: core.MethodEmail, ExpiresAt: c.EmailExpiresAt}
			}
		case core.ErrorCode(err) != core.ENOTFOUND:
			return nil, err
		}
	}
	return st, nil
}

func status(ctx context.Context, q *store.Q, userID int64) (*Status, error) {
	methods, err := q.SecondFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	st := &Status{}
	for _, m := range methods {
		on := !m.EnabledAt.IsZero()
		switch m.Method {
		case core.MethodTOTP:
			st.TOTP = on
			if !on {
				st.totpStarted = m.CreatedAt
			}
		case core.MethodEmail:
			st.Email, st.emailSetup = on, !on
		}
	}
	if st.BackupCodesLeft, err = q.BackupCodesLeft(ctx, userID); err != nil {
		return nil, err
	}
	return st, nil
}

// requireBrowser allows turning methods on and off only from a web session:
// a stolen bearer token must not be able to change the second factor.
func requireBrowser(p *auth.Principal) error {
	if p.Session == nil || p.Session.Kind != core.SessionWeb {
		return ErrWebOnly
	}
	return nil
}

// TOTPSetup is what the page shows to add Roster to an authenticator app.
type TOTPSetup struct {
	Secret string // base32 key, for typing in
	URI    string // otpauth:// URI, in the QR code
	QRPNG  []byte // the QR code as PNG
}

// QRDataURI returns the QR code as a data: URI for an <img>.
func (t *TOTPSetup) QRDataURI() string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(t.QRPNG)
}

// StartTOTP begins adding an authenticator app: it checks the password
// (and, when another method is already on, a current code of it: see
// checkAddMethod) and stores a new key (sealed) that becomes active once
// ConfirmTOTP gets a valid code from the app.
func (s *Service) StartTOTP(ctx context.Context, p *auth.Principal, password, code, workspace, ip string) (*TOTPSetup, error) {
	if err := requireBrowser(p); err != nil {
		return nil, err
	}
	st, err := s.Status(ctx, p.User)
	if err != nil {
		return nil, err
	}
	if st.TOTP {
		return nil, errAlreadyEnabled
	}
	if err := s.checkAddMethod(ctx, p.User, st, password, code, ip); err != nil {
		return nil, err
	}
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate totp key: %w", err)
	}
	setup, err := newTOTPSetup(p.User.Email, workspace, raw)
	if err != nil {
		return nil, err
	}
	err = s.db.Writer().PutSecondFactor(ctx, &core.SecondFactor{UserID: p.User.ID, Method: core.MethodTOTP,
		SecretSealed: s.box.Seal([]byte(setup.Secret)), CreatedAt: s.db.Now()})
	if err != nil {
		return nil, err
	}
	return setup, nil
}

// newTOTPSetup makes what an app needs to add the key raw: its base32
// text, the otpauth URI and the QR code.
func newTOTPSetup(account, workspace string, raw []byte) (*TOTPSetup, error) {
	issuer := "Roster"
	if workspace != "" {
		issuer = "Roster (" + workspace + ")"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Secret: raw})
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return &TOTPSetup{Secret: key.Secret(), URI: key.URL(), QRPNG: buf.Bytes()}, nil
}

// PendingTOTPSetup shows again the key of an authenticator set-up that
// waits for its first code (see Status.PendingTOTP), so that a reload or a
// mistyped code does not lose it. workspace names the issuer, as in
// StartTOTP. Browser sessions only, like starting it.
func (s *Service) PendingTOTPSetup(ctx context.Context, p *auth.Principal, workspace string) (*TOTPSetup, error) {
	if err := requireBrowser(p); err != nil {
		return nil, err
	}
	m, err := s.pendingTOTP(ctx, s.db.Reader(), p.User.ID)
	if err != nil {
		return nil, err
	}
	secret, err := s.box.Open(m.SecretSealed)
	if err != nil {
		return nil, fmt.Errorf("open totp key: %w", err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(string(secret))
	if err != nil {
		return nil, fmt.Errorf("read totp key: %w", err)
	}
	return newTOTPSetup(p.User.Email, workspace, raw)
}

// pendingTOTP returns the user's authenticator key waiting for its first
// code; errNoSetup when there is none, or it is older than TOTPSetupTTL.
func (s *Service) pendingTOTP(ctx context.Context, q *store.Q, userID int64) (*core.SecondFactor, error) {
	methods, err := q.SecondFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(methods, func(m *core.SecondFactor) bool { return m.Method == core.MethodTOTP })
	if i < 0 {
		return nil, errNoSetup
	}
	if !methods[i].EnabledAt.IsZero() {
		return nil, errAlreadyEnabled
	}
	if !s.db.Now().Before(methods[i].CreatedAt.Add(TOTPSetupTTL)) {
		return nil, errNoSetup
	}
	return methods[i], nil
}

// CancelSetup drops a set-up of method that was started and not confirmed
// (an authenticator key, or emailed codes waiting for their code); an
// expired one goes too. A method that is on is left alone (turning it off
// is Disable). Not audited: like starting a set-up, it changes nothing
// about how the account signs in.
func (s *Service) CancelSetup(ctx context.Context, p *auth.Principal, method core.TwoFactorMethod) error {
	if err := requireBrowser(p); err != nil {
		return err
	}
	if method != core.MethodTOTP && method != core.MethodEmail {
		return errNoSetup
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		dropped, err := q.DeletePendingSecondFactor(ctx, p.User.ID, method)
		if err != nil {
			return err
		}
		if method == core.MethodEmail {
			// The code already mailed stops working.
			c, err := q.ChallengeByTokenHash(ctx, s.enableEmailToken(p.User.ID))
			switch {
			case err == nil && c.DoneAt.IsZero():
				c.EmailCodeHash, c.DoneAt = nil, s.db.Now()
				if err := q.SaveChallenge(ctx, c); err != nil {
					return err
				}
			case err != nil && core.ErrorCode(err) != core.ENOTFOUND:
				return err
			}
		}
		if !dropped {
			return errNoSetup
		}
		return nil
	})
}

// ConfirmTOTP turns the authenticator app on with a current code from it.
// When it is the user's first method it returns the new backup codes, shown
// once.
func (s *Service) ConfirmTOTP(ctx context.Context, p *auth.Principal, code, ip string) ([]string, error) {
	if err := requireBrowser(p); err != nil {
		return nil, err
	}
	m, err := s.pendingTOTP(ctx, s.db.Reader(), p.User.ID)
	if err != nil {
		return nil, err
	}
	att, err := s.auth.ReserveReauth(ctx, p.User)
	if err != nil {
		return nil, err
	}
	s.check()
	step, ok, used := s.matchTOTP(m, code)
	if !ok {
		return nil, s.reauthFailed(ctx, p.User, ip, used)
	}
	checked := m.SecretSealed
	return s.enable(ctx, p, core.MethodTOTP, ip, func(q *store.Q) error {
		// The key checked above must still be the one waiting: a setup
		// started again meanwhile replaced it with a key nobody confirmed.
		now, err := q.SecondFactors(ctx, p.User.ID)
		if err != nil {
			return err
		}
		j := slices.IndexFunc(now, func(m *core.SecondFactor) bool { return m.Method == core.MethodTOTP })
		if j < 0 || !now[j].EnabledAt.IsZero() || !bytes.Equal(now[j].SecretSealed, checked) {
			return errNoSetup
		}
		// A code works once, also when two confirmations race.
		accepted, err := q.AcceptTOTPStep(ctx, p.User.ID, step)
		if err != nil {
			return err
		}
		if !accepted {
			return errCodeUsed
		}
		return att.Release(ctx, q)
	})
}

// matchTOTP checks code against the steps around now (±1 × 30 s) and
// returns the matching step; a step at or before the last accepted one is
// refused, so a code works once. used reports such a refusal: the code
// was right but already used, and the user must wait for the next one.
func (s *Service) matchTOTP(m *core.SecondFactor, code string) (step int64, ok, used bool) {
	code = normalizeDigits(code)
	if len(code) != 6 {
		return 0, false, false
	}
	secret, err := s.box.Open(m.SecretSealed)
	if err != nil {
		return 0, false, false
	}
	now := s.db.Now()
	if step, ok := MatchTOTP(string(secret), code, now, m.LastStep); ok {
		return step, true, false
	}
	// Any match now is a step at or before the last accepted one.
	_, used = MatchTOTP(string(secret), code, now, -1)
	return 0, false, used
}

// MatchTOTP returns the time step whose code equals code, among the steps
// now-1, now and now+1, skipping steps at or before lastStep.
func MatchTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	current := now.Unix() / totpPeriod
	for _, step := range []int64{current - 1, current, current + 1} {
		if step <= lastStep || step < 0 {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

func normalizeDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// errCodeWrong answers a wrong code. The attempt reserved for it
// (auth.Reserve, or auth.ReserveReauth in Settings) is kept, so it counts
// like a failed sign-in (or a failed check).
var errCodeWrong = codeError("code", "errors.field.code_wrong")

// errCodeUsed answers an authenticator code whose time step was already
// accepted: right, but a code works once. It counts like a wrong one.
var errCodeUsed = codeError("code", "errors.field.code_used")

// codeRefused is the answer to a code that matched nothing.
func codeRefused(used bool) error {
	if used {
		return errCodeUsed
	}
	return errCodeWrong
}

// reauthFailed audits a wrong code typed in a Settings form (its attempt
// stays counted) and returns the answer to it.
func (s *Service) reauthFailed(ctx context.Context, u *core.User, ip string, used bool) error {
	if err := s.auth.RecordReauthFailure(ctx, u, ip, "code"); err != nil {
		return err
	}
	return codeRefused(used)
}

func (s *Service) check() {
	if s.checked != nil {
		s.checked()
	}
}

// enable turns method on in one transaction: extra(q) runs first; backup
// codes are created for a first method; other sessions end; a mail and an
// audit entry record it.
func (s *Service) enable(ctx context.Context, p *auth.Principal, method core.TwoFactorMethod, ip string, extra func(*store.Q) error) ([]string, error) {
	var codes []string
	err := s.db.InTx(ctx, func(q *store.Q) error {
		if err := extra(q); err != nil {
			return err
		}
		before, err := status(ctx, q, p.User.ID)
		if err != nil {
			return err
		}
		if err := q.EnableSecondFactor(ctx, p.User.ID, method); err != nil {
			return err
		}
		if !before.Enabled() {
			if codes, err = s.newBackupCodes(ctx, q, p.User.ID); err != nil {
				return err
			}
		}
		u, err := q.UserToChange(ctx, p.User.ID)
		if err != nil {
			return err
		}
		u.TwoFactorEnabled = true
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := q.DeleteOtherSessions(ctx, u.ID, p.Session.ID); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditTwoFactorEnabled, WorkspaceID: u.WorkspaceID, ActorID: u.ID,
			TargetID: u.ID, Detail: string(method), IP: ip, Notice: core.NoticeTwoFactorEnabled, Recipient: u})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// backupAlphabet avoids characters people confuse (0/o, 1/l/i).
const backupAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, _ := rand.Int(rand.Reader, max)
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// newBackupCodes replaces the user's backup codes with fresh ones (stored
// as keyed hashes) and returns them for showing once: "xxxxx-xxxxx".
func (s *Service) newBackupCodes(ctx context.Context, q *store.Q, userID int64) ([]string, error) {
	codes := make([]string, BackupCodeCount)
	hashes := make([][]byte, BackupCodeCount)
	for i := range codes {
		raw := randomFrom(backupAlphabet, 10)
		codes[i] = raw[:5] + "-" + raw[5:]
		hashes[i] = s.box.MAC("backup:" + raw)
	}
	if err := q.ReplaceBackupCodes(ctx, userID, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// normalizeBackup accepts a backup code however it is typed.
func normalizeBackup(code string) (string, bool) {
	c := strings.ToLower(normalizeDigits(code))
	if len(c) != 10 {
		return "", false
	}
	for _, r := range c {
		if !strings.ContainsRune(backupAlphabet, r) {
			return "", false
		}
	}
	return c, true
}

// sixDigits returns a random 6-digit code.
func sixDigits() string { return randomFrom("0123456789", 6) }

// StartEmail begins turning on emailed codes: it checks the password (and,
// when another method is already on, a current code of it: see
// checkAddMethod) and mails a code that ConfirmEmail expects.
func (s *Service) StartEmail(ctx context.Context, p *auth.Principal, password, code, ip string) error {
	if err := requireBrowser(p); err != nil {
		return err
	}
	st, err := s.Status(ctx, p.User)
	if err != nil {
		return err
	}
	if st.Email {
		return errAlreadyEnabled
	}
	if err := s.checkAddMethod(ctx, p.User, st, password, code, ip); err != nil {
		return err
	}
	now := s.db.Now()
	return s.db.InTx(ctx, func(q *store.Q) error {
		if err := q.PutSecondFactor(ctx, &core.SecondFactor{UserID: p.User.ID, Method: core.MethodEmail, CreatedAt: now}); err != nil {
			return err
		}
		c := &core.Challenge{UserID: p.User.ID, TokenHash: s.enableEmailToken(p.User.ID),
			Purpose: purposeEnableMail, CreatedAt: now, ExpiresAt: now.Add(EmailCodeTTL)}
		// One enabling challenge per user: its token hash is fixed.
		if old, err := q.ChallengeByTokenHash(ctx, c.TokenHash); err == nil {
			c.ID = old.ID
			c.CreatedAt, c.ExpiresAt = old.CreatedAt, now.Add(EmailCodeTTL)
		} else if core.ErrorCode(err) != core.ENOTFOUND {
			return err
		} else if err := q.CreateChallenge(ctx, c); err != nil {
			return err
		}
		return s.sendEmailCode(ctx, q, p.User, c, "enable")
	})
}

// sendEmailCode mails a fresh code for challenge c and saves its hash.
func (s *Service) sendEmailCode(ctx context.Context, q *store.Q, u *core.User, c *core.Challenge, purpose string) error {
	code := sixDigits()
	now := s.db.Now()
	c.EmailCodeHash = s.box.MAC(fmt.Sprintf("email:%d:%s", c.ID, code))
	c.EmailSentAt, c.EmailExpiresAt, c.EmailAttempts = now, now.Add(EmailCodeTTL), 0
	if err := q.SaveChallenge(ctx, c); err != nil {
		return err
	}
	return s.mail.EnqueueTx(ctx, q.Tx, u.WorkspaceID, u.Email, u.Language, "two_factor_code", map[string]any{
		"Name": u.Name, "Code": code, "Minutes": int(EmailCodeTTL / time.Minute), "Purpose": purpose})
}

// checkEmailCode takes a try of the challenge's emailed code (at most
// EmailCodeTries, counted in the database so parallel tries are all
// counted), compares code with it and spends it when it matches; it
// reports whether it matched. c.EmailAttempts is updated.
func (s *Service) checkEmailCode(ctx context.Context, q *store.Q, c *core.Challenge, code string) (bool, error) {
	code = normalizeDigits(code)
	if c.EmailCodeHash == nil || !s.db.Now().Before(c.EmailExpiresAt) || c.EmailAttempts >= EmailCodeTries || len(code) != 6 {
		return false, nil
	}
	tries, ok, err := q.TakeEmailCodeTry(ctx, c.ID, c.EmailCodeHash, EmailCodeTries)
	c.EmailAttempts = tries
	if err != nil || !ok {
		return false, err
	}
	if s.emailCompared != nil {
		s.emailCompared()
	}
	if subtle.ConstantTimeCompare(s.box.MAC(fmt.Sprintf("email:%d:%s", c.ID, code)), c.EmailCodeHash) != 1 {
		return false, nil
	}
	// A right code works once, also when two uses race.
	spent, err := q.SpendEmailCode(ctx, c.ID, c.EmailCodeHash)
	if err != nil || !spent {
		return false, err
	}
	c.EmailCodeHash = nil
	return true, nil
}

// ConfirmEmail turns emailed codes on with the code just sent.
func (s *Service) ConfirmEmail(ctx context.Context, p *auth.Principal, code, ip string) ([]string, error) {
	if err := requireBrowser(p); err != nil {
		return nil, err
	}
	att, err := s.auth.ReserveReauth(ctx, p.User)
	if err != nil {
		return nil, err
	}
	w := s.db.Writer()
	c, err := w.ChallengeByTokenHash(ctx, s.enableEmailToken(p.User.ID))
	if err == nil && (!c.DoneAt.IsZero() || !s.db.Now().Before(c.EmailExpiresAt)) {
		err = core.ErrNotFound // confirmed, cancelled or expired
	}
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			// No code was checked: the attempt goes back.
			if err := att.Release(ctx, nil); err != nil {
				return nil, err
			}
			return nil, errNoSetup
		}
		return nil, err
	}
	s.check()
	ok, err := s.checkEmailCode(ctx, w, c, code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.reauthFailed(ctx, p.User, ip, false)
	}
	return s.enable(ctx, p, core.MethodEmail, ip, func(q *store.Q) error {
		c.EmailCodeHash, c.DoneAt = nil, s.db.Now()
		if err := q.SaveChallenge(ctx, c); err != nil {
			return err
		}
		return att.Release(ctx, q)
	})
}

// verifyAnyCode checks a code of any enabled method or a backup code, for
// disabling and regenerating, against the user's re-authentication
// throttle. It spends what it matches.
func (s *Service) verifyAnyCode(ctx context.Context, u *core.User, code, ip string) (core.TwoFactorMethod, error) {
	if strings.TrimSpace(code) == "" {
		return "", codeError("code", "errors.field.code_required")
	}
	att, err := s.auth.ReserveReauth(ctx, u)
	if err != nil {
		return "", err
	}
	var manage *core.Challenge
	if c, err := s.db.Writer().ChallengeByTokenHash(ctx, s.manageToken(u.ID)); err == nil && c.DoneAt.IsZero() {
		manage = c
	} else if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		return "", err
	}
	method, used, err := s.spendCode(ctx, u, manage, code)
	if err != nil {
		return "", err
	}
	if method == "" {
		return "", s.reauthFailed(ctx, u, ip, used)
	}
	return method, att.Release(ctx, nil)
}

// enableEmailToken is the fixed token hash of the user's one challenge
// that turns emailed codes on.
func (s *Service) enableEmailToken(userID int64) []byte {
	return s.box.MAC(fmt.Sprintf("enable-email:%d", userID))
}

func (s *Service) manageToken(userID int64) []byte {
	return s.box.MAC(fmt.Sprintf("manage:%d", userID))
}

// resendWait refuses a new emailed code for c sooner than ResendAfter
// after the last one.
func resendWait(c *core.Challenge, now time.Time) error {
	if wait := c.EmailSentAt.Add(ResendAfter).Sub(now); !c.EmailSentAt.IsZero() && wait > 0 {
		return &core.Error{Code: core.ETOOMANY, Key: "errors.code_resend_wait", Data: map[string]any{"Count": int(wait.Seconds()) + 1}, RetryAfter: wait}
	}
	return nil
}

// SendManageCode mails a code that Disable and RegenerateBackupCodes accept,
// for users whose method is email codes; at most once a minute.
func (s *Service) SendManageCode(ctx context.Context, p *auth.Principal) error {
	if err := requireBrowser(p); err != nil {
		return err
	}
	st, err := s.Status(ctx, p.User)
	if err != nil {
		return err
	}
	if !st.Email {
		return errNotEnabled
	}
	now := s.db.Now()
	return s.db.InTx(ctx, func(q *store.Q) error {
		c, err := q.ChallengeByTokenHash(ctx, s.manageToken(p.User.ID))
		switch {
		case core.ErrorCode(err) == core.ENOTFOUND:
			c = &core.Challenge{UserID: p.User.ID, TokenHash: s.manageToken(p.User.ID), Purpose: purposeManage, CreatedAt: now, ExpiresAt: now.Add(EmailCodeTTL)}
			if err := q.CreateChallenge(ctx, c); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := resendWait(c, now); err != nil {
				return err
			}
			c.DoneAt = time.Time{}
		}
		return s.sendEmailCode(ctx, q, p.User, c, "manage")
	})
}

// spendCode tries code as a TOTP code, an emailed code of challenge c (when
// given) and a backup code, and spends the one that matches. It returns ""
// when none does, with used set when code is an authenticator code that
// was already used (also by a racing request).
func (s *Service) spendCode(ctx context.Context, u *core.User, c *core.Challenge, code string) (method core.TwoFactorMethod, used bool, err error) {
	w := s.db.Writer()
	methods, err := w.SecondFactors(ctx, u.ID)
	if err != nil {
		return "", false, err
	}
	s.check()
	for _, m := range methods {
		if m.Method != core.MethodTOTP || m.EnabledAt.IsZero() {
			continue
		}
		step, ok, spent := s.matchTOTP(m, code)
		used = used || spent
		if ok {
			if accepted, err := w.AcceptTOTPStep(ctx, u.ID, step); err != nil {
				return "", false, err
			} else if accepted {
				return core.MethodTOTP, false, nil
			}
			used = true
		}
	}
	if c != nil && c.EmailCodeHash != nil {
		ok, err := s.checkEmailCode(ctx, w, c, code)
		if err != nil {
			return "", false, err
		}
		if ok {
			return core.MethodEmail, false, nil
		}
	}
	if b, ok := normalizeBackup(code); ok {
		spent, err := w.UseBackupCode(ctx, u.ID, s.box.MAC("backup:"+b))
		if err != nil {
			return "", false, err
		}
		if spent {
			// Spent whatever happens next, so recorded now, on its own.
			if err := s.events.Record(context.WithoutCancel(ctx), w, core.Event{Action: core.AuditBackupCodeUsed,
				WorkspaceID: u.WorkspaceID, ActorID: u.ID, TargetID: u.ID}); err != nil {
				return "", false, err
			}
			return core.MethodBackupCode, false, nil
		}
	}
	return "", used, nil
}

// checkAddMethod checks what adding a method needs: the password, and
// while another method is on a current code too (spent). Otherwise a
// session and the password alone could add the holder's own authenticator
// and then turn the user's method off with it.
func (s *Service) checkAddMethod(ctx context.Context, u *core.User, st *Status, password, code, ip string) error {
	if st.Enabled() {
		return s.checkPasswordAndCode(ctx, u, password, code, ip)
	}
	return s.auth.VerifyPassword(ctx, u, password, ip, "password")
}

// checkPasswordAndCode is what turning a method off and renewing backup
// codes both need: the password, then a current code (which it spends).
func (s *Service) checkPasswordAndCode(ctx context.Context, u *core.User, password, code, ip string) error {
	if err := s.auth.VerifyPassword(ctx, u, password, ip, "password"); err != nil {
		return err
	}
	_, err := s.verifyAnyCode(ctx, u, code, ip)
	return err
}

// Disable turns one method off after checking the password and a current
// code (or a backup code). When no method is left, backup codes go too and
// two-step verification is off.
func (s *Service) Disable(ctx context.Context, p *auth.Principal, method core.TwoFactorMethod, password, code, ip string) error {
	if err := requireBrowser(p); err != nil {
		return err
	}
	st, err := s.Status(ctx, p.User)
	if err != nil {
		return err
	}
	if (method == core.MethodTOTP && !st.TOTP) || (method == core.MethodEmail && !st.Email) || (method != core.MethodTOTP && method != core.MethodEmail) {
		return errNotEnabled
	}
	if err := s.checkPasswordAndCode(ctx, p.User, password, code, ip); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		if err := q.DeleteSecondFactor(ctx, p.User.ID, method); err != nil {
			return err
		}
		after, err := status(ctx, q, p.User.ID)
		if err != nil {
			return err
		}
		u, err := q.UserToChange(ctx, p.User.ID)
		if err != nil {
			return err
		}
		allOff := !after.Enabled()
		if allOff {
			if err := q.ReplaceBackupCodes(ctx, u.ID, nil); err != nil {
				return err
			}
			u.TwoFactorEnabled = false
			if err := q.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		// u is as after the change: the notice says whether any method is left.
		return s.events.Record(ctx, q, core.Event{Action: core.AuditTwoFactorDisabled, WorkspaceID: u.WorkspaceID, ActorID: u.ID,
			TargetID: u.ID, Detail: string(method), IP: ip, Notice: core.NoticeTwoFactorDisabled, Recipient: u})
	})
}

// RegenerateBackupCodes replaces the backup codes after checking the
// password and a current code; the new codes are shown once.
func (s *Service) RegenerateBackupCodes(ctx context.Context, p *auth.Principal, password, code, ip string) ([]string, error) {
	if err := requireBrowser(p); err != nil {
		return nil, err
	}
	st, err := s.Status(ctx, p.User)
	if err != nil {
		return nil, err
	}
	if !st.Enabled() {
		return nil, errNotEnabled
	}
	if err := s.checkPasswordAndCode(ctx, p.User, password, code, ip); err != nil {
		return nil, err
	}
	var codes []string
	err = s.db.InTx(ctx, func(q *store.Q) error {
		if codes, err = s.newBackupCodes(ctx, q, p.User.ID); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditBackupCodesRenewed, WorkspaceID: p.User.WorkspaceID,
			ActorID: p.User.ID, TargetID: p.User.ID, IP: ip})
	})
	return codes, err
}

// Reset removes every method and backup code of a user who lost them, and
// signs them out everywhere. Admins only, never on themselves, and from a
// browser session like every other change of a second factor: a stolen
// bearer token must not strip one (it would then unlock changing the
// user's email address).
func (s *Service) Reset(ctx context.Context, p *auth.Principal, targetID int64, ip string) error {
	actor := p.User
	if !actor.IsAdmin() {
		return core.ErrForbidden
	}
	if err := requireBrowser(p); err != nil {
		return err
	}
	if actor.ID == targetID {
		return errOwnReset
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		u, err := q.UserInWorkspaceToChange(ctx, actor.WorkspaceID, targetID)
		if err != nil {
			return err
		}
		if err := q.DeleteSecondFactor(ctx, u.ID, ""); err != nil {
			return err
		}
		if err := q.ReplaceBackupCodes(ctx, u.ID, nil); err != nil {
			return err
		}
		u.TwoFactorEnabled = false
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := q.DeleteOtherSessions(ctx, u.ID, 0); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditTwoFactorReset, WorkspaceID: u.WorkspaceID, ActorID: actor.ID,
			ActorName: actor.Name, TargetID: u.ID, IP: ip, Notice: core.NoticeTwoFactorReset, Recipient: u})
	})
}

// Challenge is a sign-in waiting for its second step. Token goes to the
// client (a hidden form field, or challenge_id in the API).
type Challenge struct {
	Token     string
	Methods   []core.TwoFactorMethod
	ExpiresAt time.Time
	EmailSent bool
}

// SignInResult is where a sign-in stands: signed in (LoginResult set), or
// waiting for its second step (Challenge set).
type SignInResult struct {
	*auth.LoginResult
	Challenge *Challenge
}

// SignIn is the one sign-in flow, for pages and the API alike. It checks
// the password (throttled, see auth.CheckCredentials); then, in one
// transaction that reads the workspace's policy once, it refuses an
// address outside the IP allowlist before any session, challenge or mail
// exists, starts the second step for a user with two-step verification on
// (mailing a code when they use emailed codes), or opens the session
// (auth.CompleteSignIn: recorded, new-device notice, and SetupRequired when
// the workspace requires two-step verification that is off).
func (s *Service) SignIn(ctx context.Context, in auth.LoginInput) (*SignInResult, error) {
	if in.Kind == "" {
		in.Kind = core.SessionWeb
	}
	user, att, err := s.auth.CheckCredentials(ctx, in)
	if err != nil {
		return nil, err
	}
	res := &SignInResult{}
	err = s.db.InTx(ctx, func(q *store.Q) error {
		var err error
		if user.TwoFactorEnabled {
			res.Challenge, err = s.beginLogin(ctx, q, user, in.Kind, in.IP, in.Device)
		} else {
			res.LoginResult, err = s.auth.CompleteSignIn(ctx, q, user, in.Kind, in.IP, in.Device, "password")
		}
		if err != nil {
			return err
		}
		// The password was right, so this attempt is given back; with a
		// second step to come, earlier failures stay until it passes.
		return att.Release(ctx, q)
	})
	if err != nil {
		return nil, s.refused(ctx, user, in.IP, err)
	}
	return res, nil
}

// refused records a sign-in refused for its address, whose attempt is
// kept: the answer differs from a wrong password's, so the throttle must
// bound how often it can be asked. Other errors pass through.
func (s *Service) refused(ctx context.Context, user *core.User, ip string, err error) error {
	if errors.Is(err, core.ErrIPNotAllowed) {
		return errors.Join(err, s.auth.RecordFailure(ctx, user, ip, "ip_not_allowed"))
	}
	return err
}

// beginLogin starts the second step for user, whose password was right,
// in q's transaction. With emailed codes on, a code is sent.
func (s *Service) beginLogin(ctx context.Context, q *store.Q, user *core.User, kind core.SessionKind, ip, device string) (*Challenge, error) {
	ws, err := q.Workspace(ctx, user.WorkspaceID)
	if err != nil {
		return nil, err
	}
	if !ws.AllowsIP(ip) {
		return nil, core.ErrIPNotAllowed
	}
	st, err := status(ctx, q, user.ID)
	if err != nil {
		return nil, err
	}
	token := auth.NewToken()
	now := s.db.Now()
	ch := &Challenge{Token: token, Methods: st.Methods(), ExpiresAt: now.Add(ChallengeTTL)}
	c := &core.Challenge{UserID: user.ID, TokenHash: auth.HashToken(token), Purpose: purposeLogin, SessionKind: kind,
		IP: ip, Device: device, CreatedAt: now, ExpiresAt: ch.ExpiresAt}
	if err := q.CreateChallenge(ctx, c); err != nil {
		return nil, err
	}
	if st.Email {
		ch.EmailSent = true
		if err := s.sendEmailCode(ctx, q, user, c, "login"); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

func (s *Service) openChallenge(ctx context.Context, q *store.Q, token string) (*core.Challenge, *core.User, error) {
	c, err := q.ChallengeByTokenHash(ctx, auth.HashToken(token))
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			return nil, nil, errChallenge
		}
		return nil, nil, err
	}
	// A challenge also ends after ChallengeTries wrong codes: the sign-in
	// starts again from the password, which the throttle counts.
	if c.Purpose != purposeLogin || !c.DoneAt.IsZero() || !s.db.Now().Before(c.ExpiresAt) || c.Attempts >= ChallengeTries {
		return nil, nil, errChallenge
	}
	u, err := q.User(ctx, c.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.State != core.StateActive {
		return nil, nil, errChallenge
	}
	return c, u, nil
}

// ResendEmailCode mails a new code for a sign-in, at most once a minute.
func (s *Service) ResendEmailCode(ctx context.Context, token string) error {
	return s.db.InTx(ctx, func(q *store.Q) error {
		c, u, err := s.openChallenge(ctx, q, token)
		if err != nil {
			return err
		}
		st, err := status(ctx, q, u.ID)
		if err != nil {
			return err
		}
		if !st.Email {
			return errNotEnabled
		}
		if err := resendWait(c, s.db.Now()); err != nil {
			return err
		}
		return s.sendEmailCode(ctx, q, u, c, "login")
	})
}

// VerifyLogin completes a sign-in with a code: from the authenticator app,
// from the email, or a backup code. Wrong codes count like wrong passwords.
// The session opens through auth.CompleteSignIn, like every other.
func (s *Service) VerifyLogin(ctx context.Context, token, code, ip string) (*SignInResult, error) {
	w := s.db.Writer()
	c, u, err := s.openChallenge(ctx, w, token)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(code) == "" {
		return nil, codeError("code", "errors.field.code_required")
	}
	att, err := s.auth.Reserve(ctx, u.Email, ip)
	if err != nil {
		return nil, err
	}
	method, used, err := s.spendCode(ctx, u, c, code)
	if err != nil {
		return nil, err
	}
	if method == "" {
		if err := w.CountChallengeFailure(ctx, c.ID); err != nil {
			return nil, err
		}
		if err := s.events.Record(context.WithoutCancel(ctx), w, core.Event{Action: core.AuditSignInSecondStepFail,
			WorkspaceID: u.WorkspaceID, ActorID: u.ID, TargetID: u.ID, IP: ip}); err != nil {
			return nil, err
		}
		if !used && c.EmailCodeHash != nil && c.EmailAttempts >= EmailCodeTries {
			return nil, codeError("code", "errors.code_attempts_exhausted")
		}
		return nil, codeRefused(used)
	}
	var res *auth.LoginResult
	err = s.db.InTx(ctx, func(q *store.Q) error {
		ok, err := q.CompleteChallenge(ctx, c.ID)
		if err != nil {
			return err
		}
		if !ok {
			return errChallenge
		}
		if res, err = s.auth.CompleteSignIn(ctx, q, u, c.SessionKind, ip, c.Device, string(method)); err != nil {
			return err
		}
		return att.Release(ctx, q)
	})
	if err != nil {
		return nil, s.refused(ctx, u, ip, err)
	}
	return &SignInResult{LoginResult: res}, nil
}

// CodeAt returns the TOTP code of secret at t, for tests and tools.
func CodeAt(secret string, t time.Time) string {
	code, _ := totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return code
}

// Summary names a user's methods for the users list: "off", "email", "app"
// or "both".
func Summary(methods []core.TwoFactorMethod) string {
	totp, email := slices.Contains(methods, core.MethodTOTP), slices.Contains(methods, core.MethodEmail)
	switch {
	case totp && email:
		return "both"
	case totp:
		return "app"
	case email:
		return "email"
	}
	return "off"
}

// Summaries returns Summary for every user of the workspace with 2FA on;
// users missing from the map are "off". Admins and profile access only.
func (s *Service) Summaries(ctx context.Context, actor *core.User) (map[int64]string, error) {
	if !actor.CanAccessProfiles() {
		return nil, core.ErrForbidden
	}
	all, err := s.db.Reader().WorkspaceSecondFactors(ctx, actor.WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(all))
	for id, m := range all {
		out[id] = Summary(m)
	}
	return out, nil
}
