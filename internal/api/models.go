package api

import (
	"strconv"
	"time"

	"roster/internal/core"
	"roster/internal/photo"
	"roster/internal/profile"
)

// User is a person as the API shows them.
type User struct {
	ID               int64             `json:"id"`
	Name             string            `json:"name"`
	Email            string            `json:"email"`
	PendingEmail     *string           `json:"pending_email" nullable:"true" doc:"The new address of an email change waiting for confirmation of its link; null when none."`
	Role             string            `json:"role" enum:"admin,user"`
	Rights           []string          `json:"rights" nullable:"false" doc:"Extra permissions of a non-admin, e.g. profile-access."`
	State            string            `json:"state" enum:"active,inactive,removed"`
	Language         string            `json:"language" doc:"UI language, a BCP 47 tag: en, es, pt-BR, id, tr or ru."`
	Timezone         string            `json:"timezone" doc:"IANA time zone."`
	Phone            string            `json:"phone" doc:"E.164, e.g. +34612345678; empty when none."`
	PhoneDisplay     string            `json:"phone_display" doc:"The phone in international format, e.g. +34 612 34 56 78; empty when none."`
	Photo            map[string]string `json:"photo" nullable:"true" doc:"Photo URLs (paths on this server) by size in pixels: 48, 128 and 512; null when the user has no photo. A new photo gets new URLs, so they can be cached for good."`
	TwoFactorEnabled bool              `json:"two_factor_enabled"`
	TwoFactor        string            `json:"two_factor,omitempty" enum:"off,email,app,both" doc:"The user's two-step verification methods: off, email (emailed codes), app (authenticator app) or both."`
	CreatedAt        time.Time         `json:"created_at"`
	LastSignInAt     *time.Time        `json:"last_sign_in_at" nullable:"true" doc:"null when the user never signed in."`
	Note             *string           `json:"note,omitempty" doc:"Private note about the user. Present only when the caller is an admin or holds profile access."`
}

// toUser renders u for viewer without a pending email change; use
// (*API).render where one may exist. The note is left out, not emptied,
// for viewers without profile access.
func toUser(u, viewer *core.User) *User {
	return newUser(u, viewer.CanAccessProfiles(), "")
}

// fromProfile renders a profile as its viewer may see it.
func fromProfile(p *profile.Profile) *User {
	return newUser(p.User, p.NoteVisible, p.PendingEmail)
}

func newUser(u *core.User, noteVisible bool, pendingEmail string) *User {
	out := &User{
		ID:               u.ID,
		Name:             u.Name,
		Email:            u.Email,
		Role:             string(u.Role),
		Rights:           rightStrings(u.Rights),
		State:            string(u.State),
		Language:         u.Language,
		Timezone:         u.Timezone,
		Phone:            u.Phone,
		PhoneDisplay:     core.FormatPhone(u.Phone),
		Photo:            photoURLs(u),
		TwoFactorEnabled: u.TwoFactorEnabled,
		CreatedAt:        u.CreatedAt.UTC(),
		LastSignInAt:     optTime(u.LastSignInAt),
	}
	if pendingEmail != "" {
		out.PendingEmail = &pendingEmail
	}
	if noteVisible {
		note := u.Note
		out.Note = &note
	}
	return out
}

// photoURL is where one size of a stored photo is served.
func photoURL(userID, version int64, size int) string {
	return Prefix + "/users/" + strconv.FormatInt(userID, 10) + "/photo/" + strconv.FormatInt(version, 10) + "/" + strconv.Itoa(size)
}

// photoURLs returns u's photo URLs by size, or nil without a photo.
func photoURLs(u *core.User) map[string]string {
	if u.PhotoVersion == 0 {
		return nil
	}
	m := make(map[string]string, len(photo.Sizes))
	for _, size := range photo.Sizes {
		m[strconv.Itoa(size)] = photoURL(u.ID, u.PhotoVersion, size)
	}
	return m
}

func rightStrings(rs []core.Right) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r))
	}
	return out
}

func coreRights(rs []string) []core.Right {
	out := make([]core.Right, 0, len(rs))
	for _, r := range rs {
		out = append(out, core.Right(r))
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Invite is an open invitation.
type Invite struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role" enum:"admin,user"`
	Rights    []string  `json:"rights" nullable:"false"`
	InvitedBy int64     `json:"invited_by" doc:"The admin who sent it. The invitation is withdrawn when they are deactivated or lose the admin role."`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func toInvite(inv *core.Invite) *Invite {
	return &Invite{
		ID:        inv.ID,
		Email:     inv.Email,
		Role:      string(inv.Role),
		Rights:    rightStrings(inv.Rights),
		InvitedBy: inv.InvitedBy,
		CreatedAt: inv.CreatedAt.UTC(),
		ExpiresAt: inv.ExpiresAt.UTC(),
	}
}

// APIToken describes an API token; its secret is shown only on creation.
type APIToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	UserID     int64      `json:"user_id" doc:"The admin the token acts as."`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at" nullable:"true" doc:"null when never used."`
	RevokedAt  *time.Time `json:"revoked_at" nullable:"true" doc:"null while the token is active."`
}

func toAPIToken(t *core.APIToken) *APIToken {
	return &APIToken{
		ID:         t.ID,
		Name:       t.Name,
		UserID:     t.UserID,
		CreatedAt:  t.CreatedAt.UTC(),
		ExpiresAt:  t.ExpiresAt.UTC(),
		LastUsedAt: optTime(t.LastUsedAt),
		RevokedAt:  optTime(t.RevokedAt),
	}
}

// AuditEntry is one line of an audit log: a user's (GET /users/{id}/audit)
// or the workspace's (GET /audit), in one shape.
type AuditEntry struct {
	ID        int64     `json:"id"`
	Action    string    `json:"action" doc:"What happened, e.g. email.change_requested, email.change_cancelled, email.changed, password.changed, password.reset_sent, password.reset, password.check_failed, note.changed, user.access_changed, user.deactivated, user.reactivated, user.removed, invite.sent, invite.revoked, invite.accepted, api_token.created, api_token.revoked, sign_in.succeeded, sign_in.failed, sign_in.second_step_failed, two_factor.enabled, two_factor.disabled, two_factor.reset, two_factor.backup_code_used, two_factor.backup_codes_regenerated, session.revoked, workspace.require_two_factor, workspace.ip_allowlist, workspace.notification_defaults or email.change_undone. New kinds may appear."`
	ActorID   *int64    `json:"actor_id" nullable:"true" doc:"Who did it; null when it was the holder of an emailed link or the actor is gone."`
	ActorName string    `json:"actor_name" doc:"The actor's name; empty when actor_id is null."`
	TargetID  int64     `json:"target_id" doc:"The user it concerns."`
	Detail    string    `json:"detail" doc:"Context such as the new address of an email change, the method of a sign-in or the new allowlist. Secret values are never recorded."`
	IP        string    `json:"ip"`
	CreatedAt time.Time `json:"created_at"`
}

func toAuditEntry(e *core.AuditEntry) *AuditEntry {
	out := &AuditEntry{
		ID:        e.ID,
		Action:    string(e.Action),
		TargetID:  e.TargetID,
		Detail:    e.Detail,
		IP:        e.IP,
		CreatedAt: e.CreatedAt.UTC(),
	}
	if e.ActorID != 0 {
		id := e.ActorID
		out.ActorID, out.ActorName = &id, e.ActorName
	}
	return out
}
