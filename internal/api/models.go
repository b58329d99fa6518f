package api

import (
	"time"

	"roster/internal/core"
)

// User is a person as the API shows them.
type User struct {
	ID               int64      `json:"id"`
	Name             string     `json:"name"`
	Email            string     `json:"email"`
	Role             string     `json:"role" enum:"admin,user"`
	Rights           []string   `json:"rights" nullable:"false" doc:"Extra permissions of a non-admin, e.g. profile-access."`
	State            string     `json:"state" enum:"active,inactive,removed"`
	Language         string     `json:"language" doc:"UI language, a BCP 47 tag such as en or pt-BR."`
	Timezone         string     `json:"timezone" doc:"IANA time zone."`
	Phone            string     `json:"phone"`
	TwoFactorEnabled bool       `json:"two_factor_enabled"`
	CreatedAt        time.Time  `json:"created_at"`
	LastSignInAt     *time.Time `json:"last_sign_in_at" nullable:"true" doc:"null when the user never signed in."`
	Note             *string    `json:"note,omitempty" doc:"Private note about the user. Present only when the caller is an admin or holds profile access."`
}

// toUser renders u for viewer. The note is left out, not emptied, for
// viewers without profile access.
func toUser(u, viewer *core.User) *User {
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
		TwoFactorEnabled: u.TwoFactorEnabled,
		CreatedAt:        u.CreatedAt.UTC(),
		LastSignInAt:     optTime(u.LastSignInAt),
	}
	if viewer.CanAccessProfiles() {
		note := u.Note
		out.Note = &note
	}
	return out
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
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func toInvite(inv *core.Invite) *Invite {
	return &Invite{
		ID:        inv.ID,
		Email:     inv.Email,
		Role:      string(inv.Role),
		Rights:    rightStrings(inv.Rights),
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
