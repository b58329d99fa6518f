// Package profile holds the rules of Settings → Profile settings: name,
// phone, language, time zone, note, email change, password and photo. The
// page and the API both call these functions, so each rule lives here once.
package profile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/events"
	"roster/internal/i18n"
	"roster/internal/mail"
	"roster/internal/photo"
	"roster/internal/store"
)

// Limits and lifetimes.
const (
	MaxNoteLen     = 2000
	EmailChangeTTL = 24 * time.Hour
	// EmailUndoTTL is how long the old address may put itself back after a
	// change, from the link in the notice it gets.
	EmailUndoTTL     = 7 * 24 * time.Hour
	PasswordResetTTL = 24 * time.Hour
	// DefaultRecentSignIn is how long after signing in a user may change
	// their password without typing the current one (two-step
	// verification off).
	DefaultRecentSignIn = 10 * time.Minute
)

// Service applies profile rules.
type Service struct {
	db           *store.DB
	auth         *auth.Service
	accounts     *account.Service
	mail         mail.Enqueuer // links: transactional mail
	events       *events.Recorder
	photos       *photo.Store
	baseURL      string
	recentSignIn time.Duration
	zoneChanged  func(ctx context.Context, q *store.Q, u *core.User) error
	// pending caches each person's pending email change (or that there is
	// none, as most have), which their profile and GET /api/v1/me show on
	// every call; the store's EmailChangeTag drops it.
	pending *store.Cache[int64, pendingEmail]
}

// pendingEmail is a cached pending email change; Email "" when none.
type pendingEmail struct {
	Email string
	Until time.Time
}

// Pending-change cache bounds: a few dozen bytes a person, and read again
// at least every minute (as the workspace and policy caches).
const (
	pendingCacheSize = 100_000
	pendingCacheAge  = time.Minute
)

// Config wires a Service.
type Config struct {
	DB           *store.DB
	Auth         *auth.Service
	Accounts     *account.Service // for listing users under the same rules
	Mail         mail.Enqueuer
	Events       *events.Recorder // records every change; notices follow from there
	Photos       *photo.Store
	BaseURL      string        // for links in mail
	RecentSignIn time.Duration // default DefaultRecentSignIn
	// ZoneChanged is told, in the transaction that changes it, that a
	// person's time zone changed (their daily digest follows the zone).
	ZoneChanged func(ctx context.Context, q *store.Q, u *core.User) error
}

// NewService returns the profile service.
func NewService(c Config) *Service {
	if c.RecentSignIn <= 0 {
		c.RecentSignIn = DefaultRecentSignIn
	}
	return &Service{db: c.DB, auth: c.Auth, accounts: c.Accounts, mail: c.Mail, events: c.Events, photos: c.Photos, baseURL: strings.TrimRight(c.BaseURL, "/"), recentSignIn: c.RecentSignIn,
		zoneChanged: c.ZoneChanged, pending: store.NewCache[int64, pendingEmail](c.DB, pendingCacheSize, pendingCacheAge, store.EmailChangeKind)}
}

// Profile is a user as the profile page shows it to a given viewer.
type Profile struct {
	User         *core.User
	PendingEmail string // "" when no change waits for confirmation
	// NoteVisible is false when the viewer may not see the note: pages and
	// the API then leave it out entirely.
	NoteVisible bool
	// NoteEditable: the viewer may write the note (see mayWriteNote).
	NoteEditable bool
	// Self is true when the viewer looks at their own profile.
	Self bool
	// EmailEditable: the viewer may change this sign-in address (their
	// own, or anyone's for admins).
	EmailEditable bool
}

// Get returns the profile of target as actor may see it: their own, or any
// user of the workspace for admins and holders of profile access. Another
// workspace's user is ENOTFOUND.
func (s *Service) Get(ctx context.Context, actor *core.User, targetID int64) (*Profile, error) {
	u, err := s.target(ctx, s.db.Reader(), actor, targetID)
	if err != nil {
		return nil, err
	}
	return s.profileOf(ctx, actor, u)
}

// reread is Get after a change has committed. The change stands whatever
// happens to the request now, so the read ignores the request's deadline:
// a committed save must never be answered as a failure (503) that invites
// the person to make it again.
func (s *Service) reread(ctx context.Context, actor *core.User, targetID int64) (*Profile, error) {
	return s.Get(context.WithoutCancel(ctx), actor, targetID)
}

// Own is the actor's own profile, from the actor as this request read it
// (authentication reads the user afresh on every request): one query less
// on the pages and calls people make most. After a change of the profile
// in the same request, use Get.
func (s *Service) Own(ctx context.Context, actor *core.User) (*Profile, error) {
	return s.profileOf(ctx, actor, actor)
}

func (s *Service) profileOf(ctx context.Context, actor, u *core.User) (*Profile, error) {
	pending, err := s.pendingEmail(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &Profile{User: u, NoteVisible: actor.CanAccessProfiles(), NoteEditable: mayWriteNote(actor, u.ID),
		Self: u.ID == actor.ID, EmailEditable: mayChangeEmail(actor, u), PendingEmail: pending}, nil
}

// pendingEmail is the new address of the person's unexpired pending email
// change, "" when none: from the cache, else read and cached.
func (s *Service) pendingEmail(ctx context.Context, userID int64) (string, error) {
	c, err := s.pending.Load(ctx, userID, func(ctx context.Context) (pendingEmail, error) {
		c, err := s.db.Reader().PendingEmailChange(ctx, userID)
		switch {
		case err == nil:
			return pendingEmail{Email: c.NewEmail, Until: c.ExpiresAt}, nil
		case core.ErrorCode(err) == core.ENOTFOUND:
			return pendingEmail{}, nil
		default:
			return pendingEmail{}, err
		}
	}, store.EmailChangeTag(userID))
	if err != nil || !c.Until.After(s.db.Now()) {
		return "", err
	}
	return c.Email, nil
}

// target loads a user the actor may see and edit.
func (s *Service) target(ctx context.Context, q *store.Q, actor *core.User, targetID int64) (*core.User, error) {
	return account.VisibleUser(ctx, q, actor, targetID)
}

// Changes are the fields of one Save; nil leaves a field as it is.
type Changes struct {
	Name     *string
	Phone    *string
	Language *string
	Timezone *string
	Note     *string
}

// mayWriteNote: the note is about a user, for admins and holders of
// profile access; the note about yourself only an admin may write (a
// holder of profile access still reads it, as every note).
func mayWriteNote(actor *core.User, targetID int64) bool {
	return actor.IsAdmin() || (actor.CanAccessProfiles() && actor.ID != targetID)
}

// Update applies a Save: every field is checked first and nothing changes
// unless all are valid. Writing the note needs mayWriteNote (403 otherwise).
func (s *Service) Update(ctx context.Context, actor *core.User, targetID int64, c Changes, ip string) (*Profile, error) {
	if c.Note != nil && !mayWriteNote(actor, targetID) {
		return nil, core.ErrForbidden
	}
	err := s.db.InTx(ctx, func(q *store.Q) error {
		u, err := account.VisibleUserToChange(ctx, q, actor, targetID)
		if err != nil {
			return err
		}
		ws, err := q.Workspace(ctx, u.WorkspaceID)
		if err != nil {
			return err
		}
		var v core.Invalid
		if c.Name != nil {
			if name, key := core.CheckName(*c.Name); key == "" {
				u.Name = name
			} else {
				v.Add("name", key, nil)
			}
		}
		if c.Phone != nil {
			if phone, key := core.CheckPhone(*c.Phone, ws.Country); key == "" {
				u.Phone = phone
			} else {
				v.Add("phone", key, nil)
			}
		}
		if c.Language != nil {
			if i18n.IsSupported(*c.Language) {
				u.Language = *c.Language
			} else {
				v.Add("language", "errors.field.language_invalid", nil)
			}
		}
		zoneChanged := false
		if c.Timezone != nil {
			if core.ValidTimezone(*c.Timezone) {
				zoneChanged = *c.Timezone != u.Timezone
				u.Timezone = *c.Timezone
			} else {
				v.Add("timezone", "errors.field.timezone_invalid", nil)
			}
		}
		noteChanged := false
		if c.Note != nil {
			note := strings.TrimSpace(strings.ReplaceAll(*c.Note, "\r\n", "\n"))
			if utf8.RuneCountInString(note) > MaxNoteLen || !utf8.ValidString(note) {
				v.Add("note", "errors.field.too_long", map[string]any{"Count": MaxNoteLen})
			} else {
				noteChanged = note != u.Note
				u.Note = note
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		if zoneChanged && s.zoneChanged != nil {
			if err := s.zoneChanged(ctx, q, u); err != nil {
				return err
			}
		}
		if noteChanged {
			return s.record(ctx, q, actor.ID, u, core.AuditNoteChanged, "", ip)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.reread(ctx, actor, targetID)
}

// record records a change to target's profile (actorID 0: the holder of
// a link).
func (s *Service) record(ctx context.Context, q *store.Q, actorID int64, target *core.User, action core.AuditAction, detail, ip string) error {
	return s.events.Record(ctx, q, core.Event{Action: action, WorkspaceID: target.WorkspaceID, ActorID: actorID, TargetID: target.ID,
		Detail: detail, IP: ip})
}

// ErrEmailLockedBy2FA refuses an email change while two-step verification
// is on: it must be turned off first.
var ErrEmailLockedBy2FA = core.Errorf(core.ECONFLICT, "errors.email_locked_2fa")

// EmailChangesPerHour caps email change requests (and so confirmation
// mails) per user: each one mails an address the requester chose.
const EmailChangesPerHour = 5

// ErrEmailTakenAtConfirm refuses a confirmation when the new address
// belongs to another account by then.
var ErrEmailTakenAtConfirm = core.Errorf(core.ECONFLICT, "errors.email_taken_at_confirm")

// RequestEmailChange starts changing target's address: a confirmation link
// (valid 24 hours, single use) goes to the new address and a notice to the
// old one; the address changes only when the link is opened. A new request
// replaces a pending one. Only admins change another user's address: the
// profile-access right could otherwise move an admin's sign-in to a
// mailbox its holder controls.
//
// An address that belongs to another account is answered exactly like a
// free one, so the form cannot be used to find out who has an account; no
// mail goes to it, and the change could not be confirmed anyway.
func (s *Service) RequestEmailChange(ctx context.Context, actor *core.User, targetID int64, newEmail, ip string) (*Profile, error) {
	email, ok := core.NormalizeEmail(newEmail)
	err := s.db.InTx(ctx, func(q *store.Q) error {
		u, err := s.target(ctx, q, actor, targetID)
		if err != nil {
			return err
		}
		if !mayChangeEmail(actor, u) {
			return core.ErrForbidden
		}
		if u.TwoFactorEnabled {
			return ErrEmailLockedBy2FA
		}
		var v core.Invalid
		switch {
		case !ok:
			v.Add("email", "errors.field.email_invalid", nil)
		case email == u.Email:
			v.Add("email", "errors.field.email_same", nil)
		}
		if err := v.Err(); err != nil {
			return err
		}
		// Count and write under the user's row lock, so concurrent requests
		// cannot all pass the check.
		if err := q.LockUser(ctx, u.ID); err != nil {
			return err
		}
		now := s.db.Now()
		n, oldest, err := q.CountAudit(ctx, u.ID, core.AuditEmailChangeRequested, now.Add(-time.Hour))
		if err != nil {
			return err
		}
		if n >= EmailChangesPerHour {
			wait := max(oldest.Add(time.Hour).Sub(now), time.Second)
			return &core.Error{Code: core.ETOOMANY, Key: "errors.too_many_requests", RetryAfter: wait}
		}
		taken := false
		if _, err := q.UserByEmail(ctx, email); err == nil {
			taken = true
		} else if core.ErrorCode(err) != core.ENOTFOUND {
			return err
		}
		token := auth.NewToken()
		if err := q.PutEmailChange(ctx, &core.EmailChange{UserID: u.ID, NewEmail: email, TokenHash: auth.HashToken(token),
			CreatedAt: now, ExpiresAt: now.Add(EmailChangeTTL)}); err != nil {
			return err
		}
		if !taken {
			if err := s.mail.EnqueueTx(ctx, q.Tx, u.WorkspaceID, email, u.Language, "email_confirm", map[string]any{
				"Name": u.Name, "NewEmail": email, "Link": s.baseURL + "/email/confirm/" + token, "Hours": int(EmailChangeTTL / time.Hour),
			}); err != nil {
				return err
			}
		}
		// The current address hears of the request, whoever made it.
		return s.events.Record(ctx, q, core.Event{Action: core.AuditEmailChangeRequested, WorkspaceID: u.WorkspaceID, ActorID: actor.ID,
			TargetID: u.ID, Detail: email, IP: ip, Notice: core.NoticeEmailChangeRequested, Recipient: u})
	})
	if err != nil {
		return nil, err
	}
	return s.reread(ctx, actor, targetID)
}

// mayChangeEmail: a user changes their own sign-in address, admins
// anyone's; the profile-access right does not reach it.
func mayChangeEmail(actor, target *core.User) bool {
	return actor.ID == target.ID || actor.IsAdmin()
}

// ErrNoEmailChange means there is no pending email change to cancel (as
// distinct from an unknown user).
var ErrNoEmailChange = core.Errorf(core.ENOTFOUND, "errors.no_pending_email_change")

// CancelEmailChange drops target's pending change; ErrNoEmailChange when
// none is pending.
func (s *Service) CancelEmailChange(ctx context.Context, actor *core.User, targetID int64, ip string) (*Profile, error) {
	err := s.db.InTx(ctx, func(q *store.Q) error {
		u, err := s.target(ctx, q, actor, targetID)
		if err != nil {
			return err
		}
		if !mayChangeEmail(actor, u) {
			return core.ErrForbidden
		}
		had, err := q.DeleteEmailChange(ctx, u.ID)
		if err != nil {
			return err
		}
		if !had {
			return ErrNoEmailChange
		}
		return s.record(ctx, q, actor.ID, u, core.AuditEmailChangeCancelled, "", ip)
	})
	if err != nil {
		return nil, err
	}
	return s.reread(ctx, actor, targetID)
}

var errLinkInvalid = core.Errorf(core.ENOTFOUND, "errors.link_invalid")

// EmailUndoUsable reports whether an undo link still works, for the page
// that asks before using it.
func (s *Service) EmailUndoUsable(ctx context.Context, token string) error {
	ok, err := s.db.Reader().EmailUndoUsable(ctx, auth.HashToken(token))
	if err != nil {
		return err
	}
	if !ok {
		return errLinkInvalid
	}
	return nil
}

// UndoEmailChange puts back the address a change replaced, from the link
// mailed to that address, within EmailUndoTTL and once: every session and
// API token of the user ends, since whoever made the change may hold one,
// and any pending change is dropped. It fails with ErrEmailTakenAtConfirm
// when another account has taken the old address since.
func (s *Service) UndoEmailChange(ctx context.Context, token, ip string) (*core.User, error) {
	var u *core.User
	err := s.db.InTx(ctx, func(q *store.Q) error {
		userID, old, err := q.SpendEmailUndo(ctx, auth.HashToken(token))
		if err != nil {
			if core.ErrorCode(err) == core.ENOTFOUND {
				return errLinkInvalid
			}
			return err
		}
		if u, err = q.UserToChange(ctx, userID); err != nil {
			return err
		}
		if other, err := q.UserByEmail(ctx, old); err == nil && other.ID != u.ID {
			return ErrEmailTakenAtConfirm
		} else if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
			return err
		}
		changed := u.Email
		u.Email = old
		if _, err := q.DeleteEmailChange(ctx, u.ID); err != nil {
			return err
		}
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := q.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		if _, err := q.RevokeUserAPITokens(ctx, u.ID); err != nil {
			return err
		}
		return s.record(ctx, q, 0, u, core.AuditEmailChangeUndone, changed+" → "+old, ip)
	})
	if err != nil {
		return nil, err
	}
	slog.InfoContext(ctx, "email change undone", "user_id", u.ID)
	return u, nil
}

// ConfirmEmailChange applies the change behind a confirmation link. It
// works once; the address must still be free and two-step verification
// still off.
func (s *Service) ConfirmEmailChange(ctx context.Context, token, ip string) (*core.User, error) {
	var u *core.User
	err := s.db.InTx(ctx, func(q *store.Q) error {
		c, err := q.EmailChangeByTokenHash(ctx, auth.HashToken(token))
		if err != nil {
			if core.ErrorCode(err) == core.ENOTFOUND {
				return errLinkInvalid
			}
			return err
		}
		if !s.db.Now().Before(c.ExpiresAt) {
			return errLinkInvalid
		}
		if u, err = q.UserToChange(ctx, c.UserID); err != nil {
			return err
		}
		if u.TwoFactorEnabled {
			return ErrEmailLockedBy2FA
		}
		if other, err := q.UserByEmail(ctx, c.NewEmail); err == nil && other.ID != u.ID {
			return ErrEmailTakenAtConfirm
		} else if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
			return err
		}
		old := u.Email
		u.Email = c.NewEmail
		if _, err := q.DeleteEmailChange(ctx, u.ID); err != nil {
			return err
		}
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		// The notice's mail is the undo link's below, to the OLD address:
		// a one-time link, so it is transactional mail sent here. A
		// follower that mails must not use Recipient.Email (the new one).
		if err := s.events.Record(ctx, q, core.Event{Action: core.AuditEmailChanged, WorkspaceID: u.WorkspaceID, TargetID: u.ID,
			Detail: old + " → " + u.Email, IP: ip, Notice: core.NoticeEmailChanged, Recipient: u}); err != nil {
			return err
		}
		// The old address learns of the change and may undo it: whoever
		// confirmed it controls only the new one.
		undo := auth.NewToken()
		if err := q.PutEmailUndo(ctx, auth.HashToken(undo), u.ID, old, u.Email, s.db.Now().Add(EmailUndoTTL)); err != nil {
			return err
		}
		return s.mail.EnqueueTx(ctx, q.Tx, u.WorkspaceID, old, u.Language, "email_changed", map[string]any{
			"Name": u.Name, "OldEmail": old, "NewEmail": u.Email, "Link": s.baseURL + "/email/undo/" + undo,
			"Days": int(EmailUndoTTL / (24 * time.Hour)),
		})
	})
	if err != nil {
		return nil, err
	}
	slog.InfoContext(ctx, "email changed", "user_id", u.ID)
	return u, nil
}

// PasswordChange is a password change by its owner.
type PasswordChange struct {
	Current string
	New     string
	IP      string
}

// ChangePassword sets a new password for the signed-in user. With two-step
// verification on, the current password is always required; with it off,
// only when the session is older than the recent sign-in window (or the
// caller uses an API token). Every other session of the user ends, and a
// notice goes to their address.
func (s *Service) ChangePassword(ctx context.Context, p *auth.Principal, in PasswordChange) error {
	u := p.User
	recent := p.Session != nil && s.db.Now().Sub(p.Session.CreatedAt) < s.recentSignIn
	var v core.Invalid
	if u.TwoFactorEnabled || !recent || in.Current != "" {
		if err := s.auth.VerifyPassword(ctx, u, in.Current, in.IP, "current_password"); err != nil {
			if e := core.AsError(err); e != nil && e.Code == core.EINVALID {
				v.Fields = append(v.Fields, e.Fields...)
			} else {
				return err
			}
		}
	}
	hash, err := s.auth.NewPasswordHash(ctx, &v, in.New, u.Email, "new_password")
	if err != nil {
		return err
	}
	keep := int64(0)
	if p.Session != nil {
		keep = p.Session.ID
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		_, err := s.setPassword(ctx, q, u.ID, hash, keep, u.ID, core.AuditPasswordChanged, in.IP)
		return err
	})
}

// setPassword is what every new password does, inside q's transaction:
// store the hash, end every other session (keep, or all with 0) and record
// it, which mails the notice (actorID 0: the holder of a link).
func (s *Service) setPassword(ctx context.Context, q *store.Q, userID int64, hash string, keep, actorID int64, action core.AuditAction, ip string) (*core.User, error) {
	fresh, err := q.UserToChange(ctx, userID)
	if err != nil {
		return nil, err
	}
	fresh.PasswordHash = hash
	if err := q.UpdateUser(ctx, fresh); err != nil {
		return nil, err
	}
	if err := q.DeleteOtherSessions(ctx, userID, keep); err != nil {
		return nil, err
	}
	return fresh, s.events.Record(ctx, q, core.Event{Action: action, WorkspaceID: fresh.WorkspaceID, ActorID: actorID, TargetID: fresh.ID,
		IP: ip, Notice: core.NoticePasswordChanged, Recipient: fresh})
}

// SendPasswordReset mails target a single-use link to set a new password:
// what an admin does instead of setting someone's password. Admins only.
func (s *Service) SendPasswordReset(ctx context.Context, actor *core.User, targetID int64, ip string) error {
	if !actor.IsAdmin() {
		return core.ErrForbidden
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		u, err := q.UserInWorkspace(ctx, actor.WorkspaceID, targetID)
		if err != nil {
			return err
		}
		if u.State != core.StateActive {
			return core.Errorf(core.ECONFLICT, "errors.user_not_active")
		}
		token := auth.NewToken()
		now := s.db.Now()
		if err := q.CreatePasswordReset(ctx, &core.PasswordReset{UserID: u.ID, TokenHash: auth.HashToken(token), CreatedBy: actor.ID,
			CreatedAt: now, ExpiresAt: now.Add(PasswordResetTTL)}); err != nil {
			return err
		}
		if err := s.mail.EnqueueTx(ctx, q.Tx, u.WorkspaceID, u.Email, u.Language, "password_reset", map[string]any{
			"Name": u.Name, "AdminName": actor.Name, "Link": s.baseURL + "/password/reset/" + token, "Hours": int(PasswordResetTTL / time.Hour),
		}); err != nil {
			return err
		}
		return s.record(ctx, q, actor.ID, u, core.AuditPasswordResetSent, "", ip)
	})
}

// OpenPasswordReset returns the user a reset link is for, if it still works.
func (s *Service) OpenPasswordReset(ctx context.Context, token string) (*core.User, error) {
	r := s.db.Reader()
	reset, err := r.PasswordResetByTokenHash(ctx, auth.HashToken(token))
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			return nil, errLinkInvalid
		}
		return nil, err
	}
	if !reset.UsedAt.IsZero() || !s.db.Now().Before(reset.ExpiresAt) {
		return nil, errLinkInvalid
	}
	u, err := r.User(ctx, reset.UserID)
	if err != nil {
		return nil, err
	}
	if u.State != core.StateActive {
		return nil, errLinkInvalid
	}
	return u, nil
}

// ResetPassword sets a new password through a reset link, ends every
// session of the user and sends a notice.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword, ip string) (*core.User, error) {
	u, err := s.OpenPasswordReset(ctx, token)
	if err != nil {
		return nil, err
	}
	hash, err := s.auth.NewPasswordHash(ctx, nil, newPassword, u.Email, "new_password")
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(q *store.Q) error {
		reset, err := q.PasswordResetByTokenHash(ctx, auth.HashToken(token))
		if err != nil {
			return err
		}
		if ok, err := q.UsePasswordReset(ctx, reset.ID); err != nil {
			return err
		} else if !ok {
			return errLinkInvalid
		}
		u, err = s.setPassword(ctx, q, u.ID, hash, 0, 0, core.AuditPasswordReset, ip)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// AuditLog returns the latest audit entries about target; admins only.
func (s *Service) AuditLog(ctx context.Context, actor *core.User, targetID int64) ([]*core.AuditEntry, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	if targetID != actor.ID { // someone else's log: 404 outside the workspace
		if _, err := s.db.Reader().UserInWorkspace(ctx, actor.WorkspaceID, targetID); err != nil {
			return nil, err
		}
	}
	return s.db.Reader().AuditLog(ctx, actor.WorkspaceID, targetID, 100)
}

// SetPhoto replaces target's photo with an upload: checked, cleaned and
// resized by photo.Process, stored under a new version so URLs change.
func (s *Service) SetPhoto(ctx context.Context, actor *core.User, targetID int64, upload io.Reader) (*Profile, error) {
	u, err := s.target(ctx, s.db.Reader(), actor, targetID)
	if err != nil {
		return nil, err
	}
	res, err := photo.Process(ctx, upload)
	if err != nil {
		return nil, err
	}
	version := max(s.db.Now().UnixMilli(), u.PhotoVersion+1)
	if err := s.photos.PutPhoto(ctx, u.ID, version, res.Images); err != nil {
		return nil, fmt.Errorf("store photo: %w", err)
	}
	old, err := s.setPhotoVersion(ctx, u.ID, version)
	if err != nil {
		// Often the request's deadline ended the save; the cleanup is not
		// cut short with it (SweepPhotos catches what still escapes).
		_ = s.photos.DeletePhoto(context.WithoutCancel(ctx), u.ID, version)
		return nil, err
	}
	s.dropPhoto(ctx, u.ID, old)
	return s.reread(ctx, actor, targetID)
}

// RemovePhoto deletes target's photo; initials show instead.
func (s *Service) RemovePhoto(ctx context.Context, actor *core.User, targetID int64) (*Profile, error) {
	u, err := s.target(ctx, s.db.Reader(), actor, targetID)
	if err != nil {
		return nil, err
	}
	old, err := s.setPhotoVersion(ctx, u.ID, 0)
	if err != nil {
		return nil, err
	}
	s.dropPhoto(ctx, u.ID, old)
	return s.reread(ctx, actor, targetID)
}

func (s *Service) setPhotoVersion(ctx context.Context, userID, version int64) (old int64, err error) {
	err = s.db.InTx(ctx, func(q *store.Q) error {
		u, err := q.UserToChange(ctx, userID)
		if err != nil {
			return err
		}
		old, u.PhotoVersion = u.PhotoVersion, version
		return q.UpdateUser(ctx, u)
	})
	return old, err
}

// dropPhoto deletes a replaced photo; a failure only leaves an orphan blob.
func (s *Service) dropPhoto(ctx context.Context, userID, version int64) {
	if version == 0 {
		return
	}
	// It runs after the change committed: not cut short by the request's end.
	ctx = context.WithoutCancel(ctx)
	if err := s.photos.DeletePhoto(ctx, userID, version); err != nil {
		slog.WarnContext(ctx, "could not delete old photo", "user_id", userID, "version", version, "err", err)
	}
}

// ServePhoto writes a user's photo at one of photo.Sizes. Only the current
// version is served, to users of the same workspace.
func (s *Service) ServePhoto(ctx context.Context, viewer *core.User, userID, version int64) (*core.User, error) {
	u, err := s.db.Reader().UserInWorkspace(ctx, viewer.WorkspaceID, userID)
	if err != nil {
		return nil, err
	}
	if u.PhotoVersion == 0 || u.PhotoVersion != version {
		return nil, core.ErrNotFound
	}
	return u, nil
}

// Photos is the blob store, for handlers that stream images.
func (s *Service) Photos() *photo.Store { return s.photos }

// List returns a page of the workspace's users as the actor may see them
// (admins and holders of profile access), with pending email changes.
func (s *Service) List(ctx context.Context, actor *core.User, p account.Page) ([]*Profile, int, error) {
	users, total, err := s.accounts.Users(ctx, actor, p)
	if err != nil {
		return nil, 0, err
	}
	pending, err := s.db.Reader().PendingEmailChanges(ctx, actor.WorkspaceID)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*Profile, len(users))
	for i, u := range users {
		out[i] = &Profile{User: u, PendingEmail: pending[u.ID], NoteVisible: actor.CanAccessProfiles(), Self: u.ID == actor.ID}
	}
	return out, total, nil
}

// RecentSignIn is the window after sign-in in which, with two-step
// verification off, a password change needs no current password.
func (s *Service) RecentSignIn() time.Duration { return s.recentSignIn }
