package core

import (
	"slices"
	"time"
)

// Role is a user's role in a workspace.
type Role string

// Roles.
const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleUser }

// Right is an extra permission a non-admin can hold.
type Right string

// RightProfileAccess lets a non-admin see and edit other users' profiles,
// including their note.
const RightProfileAccess Right = "profile-access"

// AllRights lists every right, in display order.
var AllRights = []Right{RightProfileAccess}

// Valid reports whether r is a known right.
func (r Right) Valid() bool { return slices.Contains(AllRights, r) }

// State is a user's lifecycle state.
type State string

// States.
const (
	StateActive   State = "active"
	StateInactive State = "inactive" // cannot sign in; can be reactivated
	StateRemoved  State = "removed"
)

// Workspace is one CRM team's installation space.
type Workspace struct {
	ID       int64
	Name     string
	Timezone string // IANA zone, default for its users
	Language string // default UI language
	Country  string // ISO 3166-1 region for phone numbers typed without a country code
	// RequireTwoFactor sends every user without two-step verification to
	// its setup before anything else.
	RequireTwoFactor bool
	// IPAllowlist holds one address or CIDR range per line; empty allows all.
	IPAllowlist string
	CreatedAt   time.Time
}

// User is a person in a workspace.
type User struct {
	ID               int64
	WorkspaceID      int64
	Name             string
	Email            string // normalised: trimmed, lower-case
	PasswordHash     string
	Role             Role
	Rights           []Right
	State            State
	Language         string
	Timezone         string
	Phone            string
	Note             string
	TwoFactorEnabled bool
	PhotoVersion     int64 // 0: no photo
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastSignInAt     time.Time // zero when never
}

// IsAdmin reports whether u is an admin.
func (u *User) IsAdmin() bool { return u.Role == RoleAdmin }

// HasRight reports whether u holds r.
func (u *User) HasRight(r Right) bool { return slices.Contains(u.Rights, r) }

// CanAccessProfiles reports whether u may see and edit other users'
// profiles and notes: admins and holders of the profile-access right.
func (u *User) CanAccessProfiles() bool { return u.IsAdmin() || u.HasRight(RightProfileAccess) }

// SessionKind tells how a session was opened.
type SessionKind string

// Session kinds.
const (
	SessionWeb SessionKind = "web" // browser cookie
	SessionAPI SessionKind = "api" // bearer token from POST /api/v1/auth/login
)

// Session is a signed-in device. Only a hash of its token is stored.
type Session struct {
	ID         int64
	UserID     int64
	Kind       SessionKind
	TokenHash  []byte
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
	IP         string
	Device     string
}

// APIToken is a long-lived token an admin created for an integration; it
// acts as the admin who created it.
type APIToken struct {
	ID         int64
	UserID     int64
	Name       string
	TokenHash  []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero when never used
	RevokedAt  time.Time // zero when active
}

// Invite is a single-use invitation to join a workspace.
type Invite struct {
	ID          int64
	WorkspaceID int64
	Email       string
	Role        Role
	Rights      []Right
	InvitedBy   int64
	TokenHash   []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
	AcceptedAt  time.Time // zero while open
	RevokedAt   time.Time // zero unless withdrawn by an admin or with its inviter's admin rights
}

// OutboxMail is a mail kept by the dev outbox when no SMTP server is set.
type OutboxMail struct {
	ID          int64
	WorkspaceID int64 // of the recipient; 0 (mail kept before it was recorded) is shown to no one
	To          string
	Subject     string
	Text        string
	HTML        string
	Lang        string
	CreatedAt   time.Time
}

// EmailChange is an address change waiting for its confirmation link.
type EmailChange struct {
	UserID    int64
	NewEmail  string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PasswordReset is a single-use link to set a new password.
type PasswordReset struct {
	ID        int64
	UserID    int64
	TokenHash []byte
	CreatedBy int64 // 0 when the user asked for it
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// AuditAction names a recorded change.
type AuditAction string

// Audited actions. Secret values are never recorded, only that they changed.
const (
	AuditEmailChangeRequested AuditAction = "email.change_requested"
	AuditEmailChangeCancelled AuditAction = "email.change_cancelled"
	AuditEmailChanged         AuditAction = "email.changed"
	AuditEmailChangeUndone    AuditAction = "email.change_undone"
	AuditPasswordChanged      AuditAction = "password.changed"
	AuditPasswordResetSent    AuditAction = "password.reset_sent"
	AuditPasswordReset        AuditAction = "password.reset"
	// AuditReauthFailed is a wrong password or code typed by a signed-in
	// user in a Settings form (the detail says which: "password", "code").
	AuditReauthFailed AuditAction = "password.check_failed"
	AuditNoteChanged  AuditAction = "note.changed"
)

// Audited account changes: who holds which role, rights and state, who was
// let in, and which API tokens exist.
const (
	AuditAccessChanged   AuditAction = "user.access_changed"
	AuditUserDeactivated AuditAction = "user.deactivated"
	AuditUserReactivated AuditAction = "user.reactivated"
	AuditUserRemoved     AuditAction = "user.removed"
	AuditInviteSent      AuditAction = "invite.sent"
	AuditInviteRevoked   AuditAction = "invite.revoked"
	AuditInviteAccepted  AuditAction = "invite.accepted"
	AuditTokenCreated    AuditAction = "api_token.created"
	AuditTokenRevoked    AuditAction = "api_token.revoked"
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID          int64
	WorkspaceID int64
	ActorID     int64 // 0 when the actor is gone or was the link holder
	ActorName   string
	TargetID    int64
	Action      AuditAction
	Detail      string // non-secret context, e.g. the new address of an email change
	IP          string
	CreatedAt   time.Time
}

// TwoFactorMethod names a second factor.
type TwoFactorMethod string

// Second-factor methods. Backup codes come with the first method enabled.
const (
	MethodTOTP       TwoFactorMethod = "totp"
	MethodEmail      TwoFactorMethod = "email"
	MethodBackupCode TwoFactorMethod = "backup_code"
)

// SecondFactor is one method of a user, enabled or being set up.
type SecondFactor struct {
	UserID       int64
	Method       TwoFactorMethod
	SecretSealed []byte // TOTP key, sealed; nil for email
	LastStep     int64  // last accepted TOTP step
	CreatedAt    time.Time
	EnabledAt    time.Time // zero while setup waits for a code
}

// Challenge is a second step in progress: a sign-in waiting for a code, or
// the email method waiting for the code that enables it.
type Challenge struct {
	ID             int64
	UserID         int64
	TokenHash      []byte
	Purpose        string // "login" or "enable_email"
	SessionKind    SessionKind
	IP, Device     string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	Attempts       int
	EmailCodeHash  []byte
	EmailSentAt    time.Time
	EmailExpiresAt time.Time
	EmailAttempts  int
	DoneAt         time.Time
}

// More audited security actions.
const (
	AuditTwoFactorEnabled     AuditAction = "two_factor.enabled"
	AuditTwoFactorDisabled    AuditAction = "two_factor.disabled"
	AuditTwoFactorReset       AuditAction = "two_factor.reset"
	AuditBackupCodeUsed       AuditAction = "two_factor.backup_code_used"
	AuditBackupCodesRenewed   AuditAction = "two_factor.backup_codes_regenerated"
	AuditSignIn               AuditAction = "sign_in.succeeded"
	AuditSignInSecondStepFail AuditAction = "sign_in.second_step_failed"
	AuditSignInFailed         AuditAction = "sign_in.failed"
	AuditSessionRevoked       AuditAction = "session.revoked"
	AuditRequireTwoFactor     AuditAction = "workspace.require_two_factor"
	AuditAllowlistChanged     AuditAction = "workspace.ip_allowlist"
	AuditNotifyDefaults       AuditAction = "workspace.notification_defaults"
)
