// Package account holds the rules of workspaces, users, roles, rights and
// invitations. The web pages and the JSON API both call these functions, so
// each rule is enforced here once.
package account

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/events"
	"roster/internal/httpx"
	"roster/internal/i18n"
	"roster/internal/mail"
	"roster/internal/store"
)

// InviteTTL is how long an invitation link works.
const InviteTTL = 7 * 24 * time.Hour

// Service applies account rules.
type Service struct {
	db      *store.DB
	auth    *auth.Service
	mail    mail.Enqueuer // invitations: transactional mail
	events  *events.Recorder
	baseURL string

	// workspaces are read by every page (its header names the workspace);
	// a change drops the entry on every instance.
	workspaces *store.Cache[int64, *core.Workspace]
}

// NewService returns the account service. baseURL is the public URL used in
// links sent by email.
func NewService(db *store.DB, authSvc *auth.Service, mailer mail.Enqueuer, rec *events.Recorder, baseURL string) *Service {
	return &Service{db: db, auth: authSvc, mail: mailer, events: rec, baseURL: strings.TrimRight(baseURL, "/"),
		workspaces: store.NewCache[int64, *core.Workspace](db, 100_000, time.Minute, store.WorkspaceKind)}
}

// NeedsSetup reports whether no workspace exists yet.
func (s *Service) NeedsSetup(ctx context.Context) (bool, error) {
	n, err := s.db.Reader().CountWorkspaces(ctx)
	return n == 0, err
}

// SetupInput creates the first workspace and its admin.
type SetupInput struct {
	Workspace string
	Timezone  string
	Language  string
	Country   string // phone region; default from the language
	Name      string
	Email     string
	Password  string
	IP        string
	Device    string
}

// Setup creates the first workspace and its first admin and signs them in.
// It is refused once any workspace exists.
func (s *Service) Setup(ctx context.Context, in SetupInput) (*auth.LoginResult, error) {
	var v core.Invalid
	ws := validateWorkspace(&v, in.Workspace, in.Timezone, in.Language)
	if in.Country != "" {
		if core.ValidRegion(in.Country) {
			ws.Country = strings.ToUpper(in.Country)
		} else {
			v.Add("country", "errors.field.country_invalid", nil)
		}
	}
	u := validateNewUser(&v, in.Name, in.Email)
	hash, err := s.auth.NewPasswordHash(ctx, &v, in.Password, u.Email, "password")
	if err != nil {
		return nil, err
	}
	var res *auth.LoginResult
	err = s.db.InTx(ctx, func(q *store.Q) error {
		n, err := q.CountWorkspaces(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return core.Errorf(core.ECONFLICT, "errors.setup_done")
		}
		if err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		u.WorkspaceID, u.Role, u.State, u.PasswordHash = ws.ID, core.RoleAdmin, core.StateActive, hash
		u.Language, u.Timezone = ws.Language, ws.Timezone
		res, err = s.createSignedIn(ctx, q, u, in.IP, in.Device, "setup")
		return err
	})
	if err != nil {
		return nil, err
	}
	slog.InfoContext(ctx, "workspace set up", "workspace_id", ws.ID, "admin_id", u.ID)
	return res, nil
}

func validateWorkspace(v *core.Invalid, name, tz, lang string) *core.Workspace {
	name, key := core.CheckName(name)
	if key != "" {
		v.Add("workspace", key, nil)
	}
	if tz == "" {
		tz = "UTC"
	}
	if !core.ValidTimezone(tz) {
		v.Add("timezone", "errors.field.timezone_invalid", nil)
	}
	if lang == "" {
		lang = "en"
	}
	if !i18n.IsSupported(lang) {
		v.Add("language", "errors.field.language_invalid", nil)
	}
	return &core.Workspace{Name: name, Timezone: tz, Language: lang, Country: core.RegionForLanguage(lang)}
}

// validateNewUser checks a new user's name and email; their password goes
// through auth.Service.NewPasswordHash with the same v.
func validateNewUser(v *core.Invalid, name, email string) *core.User {
	name, key := core.CheckName(name)
	if key != "" {
		v.Add("name", key, nil)
	}
	email, ok := core.NormalizeEmail(email)
	if !ok {
		v.Add("email", "errors.field.email_invalid", nil)
	}
	return &core.User{Name: name, Email: email}
}

func validateAccess(v *core.Invalid, role core.Role, rights []core.Right) []core.Right {
	if !role.Valid() {
		v.Add("role", "errors.field.role_invalid", nil)
	}
	var out []core.Right
	for _, r := range rights {
		if !r.Valid() {
			v.Add("rights", "errors.field.right_invalid", nil)
			continue
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// CreateUserInput is the CLI's `roster user create`.
type CreateUserInput struct {
	Workspace string
	Name      string
	Email     string
	Password  string
	Role      core.Role
	Rights    []core.Right
}

// CreateUser creates a user from the command line, creating the workspace
// when it does not exist. The first user of a workspace is always an admin.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*core.User, error) {
	var v core.Invalid
	wsIn := validateWorkspace(&v, in.Workspace, "", "")
	u := validateNewUser(&v, in.Name, in.Email)
	if in.Role == "" {
		in.Role = core.RoleUser
	}
	u.Rights = validateAccess(&v, in.Role, in.Rights)
	hash, err := s.auth.NewPasswordHash(ctx, &v, in.Password, u.Email, "password")
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(q *store.Q) error {
		ws, err := q.WorkspaceByName(ctx, wsIn.Name)
		if core.ErrorCode(err) == core.ENOTFOUND {
			ws = wsIn
			err = q.CreateWorkspace(ctx, ws)
		}
		if err != nil {
			return err
		}
		admins, err := q.CountActiveAdmins(ctx, ws.ID)
		if err != nil {
			return err
		}
		u.WorkspaceID, u.Role, u.State, u.PasswordHash = ws.ID, in.Role, core.StateActive, hash
		if admins == 0 {
			u.Role = core.RoleAdmin
		}
		u.Language, u.Timezone = ws.Language, ws.Timezone
		return q.CreateUser(ctx, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// InviteInput invites someone by email.
type InviteInput struct {
	Email  string
	Role   core.Role
	Rights []core.Right
}

// Invite creates a single-use invitation valid for InviteTTL and mails its
// link in the same transaction. Admins only.
func (s *Service) Invite(ctx context.Context, actor *core.User, in InviteInput) (*core.Invite, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	var v core.Invalid
	email, ok := core.NormalizeEmail(in.Email)
	if !ok {
		v.Add("email", "errors.field.email_invalid", nil)
	}
	if in.Role == "" {
		in.Role = core.RoleUser
	}
	rights := validateAccess(&v, in.Role, in.Rights)
	if err := v.Err(); err != nil {
		return nil, err
	}
	token := auth.NewToken()
	now := s.db.Now()
	inv := &core.Invite{WorkspaceID: actor.WorkspaceID, Email: email, Role: in.Role, Rights: rights, InvitedBy: actor.ID,
		TokenHash: auth.HashToken(token), CreatedAt: now, ExpiresAt: now.Add(InviteTTL)}
	err := s.db.InTx(ctx, func(q *store.Q) error {
		if _, err := activeAdmin(ctx, q, actor); err != nil {
			return err
		}
		if _, err := q.UserByEmail(ctx, email); err == nil {
			return store.ErrEmailTaken
		} else if core.ErrorCode(err) != core.ENOTFOUND {
			return err
		}
		ws, err := q.Workspace(ctx, actor.WorkspaceID)
		if err != nil {
			return err
		}
		if err := q.CreateInvite(ctx, inv); err != nil {
			return err
		}
		// The invitee has no account yet: the entry is about the inviter.
		if err := s.audit(ctx, q, actor, actor.ID, core.AuditInviteSent, email); err != nil {
			return err
		}
		return s.mail.EnqueueTx(ctx, q.Tx, ws.ID, email, ws.Language, "invite", map[string]any{
			"InviterName": actor.Name,
			"Workspace":   ws.Name,
			"Link":        s.baseURL + "/invite/" + token,
			"ExpiresDays": int(InviteTTL / (24 * time.Hour)),
		})
	})
	if err != nil {
		return nil, err
	}
	slog.InfoContext(ctx, "user invited", "invite_id", inv.ID, "by", actor.ID)
	return inv, nil
}

var (
	errInviteInvalid = core.Errorf(core.ENOTFOUND, "errors.invite_invalid")
	// errInviteRevoked tells the holder of a withdrawn link what happened,
	// so they ask for a new invitation rather than retry.
	errInviteRevoked = core.Errorf(core.ENOTFOUND, "errors.invite_revoked")
)

// OpenInvite returns the invitation behind a link token if it can still be
// accepted, with its workspace. An invitation withdrawn by an admin, or
// whose inviter is no longer an active admin, is errInviteRevoked.
func (s *Service) OpenInvite(ctx context.Context, token string) (*core.Invite, *core.Workspace, error) {
	r := s.db.Reader()
	inv, err := r.InviteByTokenHash(ctx, auth.HashToken(token))
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			return nil, nil, errInviteInvalid
		}
		return nil, nil, err
	}
	if !inv.AcceptedAt.IsZero() || !s.db.Now().Before(inv.ExpiresAt) {
		return nil, nil, errInviteInvalid
	}
	if !inv.RevokedAt.IsZero() {
		return nil, nil, errInviteRevoked
	}
	inviter, err := r.UserInWorkspace(ctx, inv.WorkspaceID, inv.InvitedBy)
	if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		return nil, nil, err
	}
	if inviter == nil || !inviter.IsAdmin() || inviter.State != core.StateActive {
		return nil, nil, errInviteRevoked
	}
	ws, err := r.Workspace(ctx, inv.WorkspaceID)
	if err != nil {
		return nil, nil, err
	}
	return inv, ws, nil
}

// AcceptInput completes an invitation.
type AcceptInput struct {
	Token    string
	Name     string
	Password string
	Language string // optional; defaults to the workspace's
	Timezone string // optional; defaults to the workspace's
	IP       string
	Device   string
}

// AcceptInvite creates the invited user with the name and password they
// chose, closes the invitation and signs them in.
func (s *Service) AcceptInvite(ctx context.Context, in AcceptInput) (*auth.LoginResult, error) {
	inv, ws, err := s.OpenInvite(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	var v core.Invalid
	u := validateNewUser(&v, in.Name, inv.Email)
	if in.Language != "" && !i18n.IsSupported(in.Language) {
		v.Add("language", "errors.field.language_invalid", nil)
	}
	if in.Timezone != "" && !core.ValidTimezone(in.Timezone) {
		v.Add("timezone", "errors.field.timezone_invalid", nil)
	}
	hash, err := s.auth.NewPasswordHash(ctx, &v, in.Password, u.Email, "password")
	if err != nil {
		return nil, err
	}
	var res *auth.LoginResult
	err = s.db.InTx(ctx, func(q *store.Q) error {
		ok, err := q.MarkInviteAccepted(ctx, inv.ID)
		if err != nil {
			return err
		}
		if !ok {
			return errInviteInvalid
		}
		u.WorkspaceID, u.Role, u.Rights, u.State, u.PasswordHash = ws.ID, inv.Role, inv.Rights, core.StateActive, hash
		u.Language, u.Timezone = cmp.Or(in.Language, ws.Language), cmp.Or(in.Timezone, ws.Timezone)
		if res, err = s.createSignedIn(ctx, q, u, in.IP, in.Device, "invite"); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditInviteAccepted, WorkspaceID: ws.ID, ActorID: u.ID, TargetID: u.ID,
			Detail: accessString(inv.Role, inv.Rights), IP: in.IP})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// createSignedIn creates u in q's transaction and opens its first web
// session: setup and invitations both end signed in.
func (s *Service) createSignedIn(ctx context.Context, q *store.Q, u *core.User, ip, device, how string) (*auth.LoginResult, error) {
	if err := q.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return s.auth.CompleteSignIn(ctx, q, u, core.SessionWeb, ip, device, how)
}

// OpenInvites lists the workspace's pending invitations; admins only.
func (s *Service) OpenInvites(ctx context.Context, actor *core.User) ([]*core.Invite, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	return s.db.Reader().OpenInvites(ctx, actor.WorkspaceID)
}

// RevokeInvite withdraws an open invitation of the actor's workspace; its
// link stops working at once. Admins only; another workspace's invitation,
// or one already used, withdrawn or expired, is ENOTFOUND.
func (s *Service) RevokeInvite(ctx context.Context, actor *core.User, id int64) error {
	if !actor.IsAdmin() {
		return core.ErrForbidden
	}
	err := s.db.InTx(ctx, func(q *store.Q) error {
		if _, err := activeAdmin(ctx, q, actor); err != nil {
			return err
		}
		inv, err := q.RevokeInvite(ctx, actor.WorkspaceID, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, q, actor, inv.InvitedBy, core.AuditInviteRevoked, inv.Email)
	})
	if err != nil {
		return fmt.Errorf("revoke invite %d: %w", id, err)
	}
	slog.InfoContext(ctx, "invite revoked", "invite_id", id, "by", actor.ID)
	return nil
}

// Page is one page of a list.
type Page struct {
	Offset, Limit int
	// TwoFactor filters by two-step verification: "on", "off" or "" (all).
	TwoFactor string
}

// Users lists the actor's workspace; admins and holders of profile access.
func (s *Service) Users(ctx context.Context, actor *core.User, p Page) ([]*core.User, int, error) {
	if !actor.CanAccessProfiles() {
		return nil, 0, core.ErrForbidden
	}
	if p.Limit <= 0 || p.Limit > 200 {
		p.Limit = 50
	}
	p.Offset = max(p.Offset, 0)
	f := store.UserFilter{WorkspaceID: actor.WorkspaceID, Offset: p.Offset, Limit: p.Limit}
	switch p.TwoFactor {
	case "on", "off":
		on := p.TwoFactor == "on"
		f.TwoFactor = &on
	case "":
	default:
		return nil, 0, &core.Error{Code: core.EINVALID, Key: "errors.invalid", Fields: []core.FieldError{{Field: "two_factor", Key: "errors.field.required"}}}
	}
	return s.db.Reader().Users(ctx, f)
}

// User returns a user of the actor's workspace (see VisibleUser).
func (s *Service) User(ctx context.Context, actor *core.User, id int64) (*core.User, error) {
	return VisibleUser(ctx, s.db.Reader(), actor, id)
}

// VisibleUser reads user id through q when actor may see them: the one
// statement of "who may see whom". Anyone sees themselves; admins and
// holders of the profile-access right see everyone of their workspace;
// another workspace's user does not exist (ENOTFOUND).
func VisibleUser(ctx context.Context, q *store.Q, actor *core.User, id int64) (*core.User, error) {
	u, err := q.UserInWorkspace(ctx, actor.WorkspaceID, id)
	return visible(actor, u, err)
}

// VisibleUserToChange is VisibleUser read to be written back: in a
// transaction the row stays locked until the end (store.UserToChange).
func VisibleUserToChange(ctx context.Context, q *store.Q, actor *core.User, id int64) (*core.User, error) {
	u, err := q.UserInWorkspaceToChange(ctx, actor.WorkspaceID, id)
	return visible(actor, u, err)
}

func visible(actor, u *core.User, err error) (*core.User, error) {
	if err != nil {
		return nil, err
	}
	if u.ID != actor.ID && !actor.CanAccessProfiles() {
		return nil, core.ErrForbidden
	}
	return u, nil
}

// AccessInput changes a user's role and rights.
type AccessInput struct {
	Role   core.Role
	Rights []core.Right
}

var errLastAdmin = core.Errorf(core.ECONFLICT, "errors.last_admin")

// SetAccess changes a user's role and rights; admins only. Demoting the last
// active admin is refused.
func (s *Service) SetAccess(ctx context.Context, actor *core.User, id int64, in AccessInput) (*core.User, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	var v core.Invalid
	rights := validateAccess(&v, in.Role, in.Rights)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.changeUser(ctx, actor, id, func(q *store.Q, u *core.User) error {
		before := accessString(u.Role, u.Rights)
		demoted := u.Role == core.RoleAdmin && in.Role != core.RoleAdmin
		if demoted && u.State == core.StateActive {
			if err := ensureAnotherAdmin(ctx, q, u.WorkspaceID); err != nil {
				return err
			}
		}
		u.Role, u.Rights = in.Role, rights
		after := accessString(u.Role, u.Rights)
		if after == before {
			return nil
		}
		if err := s.audit(ctx, q, actor, u.ID, core.AuditAccessChanged, before+" → "+after); err != nil {
			return err
		}
		if demoted {
			// An invitation speaks for its inviter's admin rights: it dies with them.
			return s.revokeInvitesBy(ctx, q, actor, u)
		}
		return nil
	})
}

// accessString shows a role and rights language-neutrally for the audit
// log: "user (profile-access)".
func accessString(role core.Role, rights []core.Right) string {
	if len(rights) == 0 {
		return string(role)
	}
	parts := make([]string, len(rights))
	for i, r := range rights {
		parts[i] = string(r)
	}
	slices.Sort(parts)
	return string(role) + " (" + strings.Join(parts, ", ") + ")"
}

// SetState deactivates, reactivates or removes a user; admins only. An
// inactive or removed user cannot sign in and loses every session. The last
// active admin cannot be deactivated or removed.
func (s *Service) SetState(ctx context.Context, actor *core.User, id int64, state core.State) (*core.User, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	if state != core.StateActive && state != core.StateInactive && state != core.StateRemoved {
		return nil, &core.Error{Code: core.EINVALID, Key: "errors.invalid", Fields: []core.FieldError{{Field: "state", Key: "errors.field.required"}}}
	}
	return s.changeUser(ctx, actor, id, func(q *store.Q, u *core.User) error {
		if u.State == core.StateRemoved && state != core.StateRemoved {
			return core.Errorf(core.ECONFLICT, "errors.conflict")
		}
		if state != core.StateActive && u.State == core.StateActive && u.Role == core.RoleAdmin {
			if err := ensureAnotherAdmin(ctx, q, u.WorkspaceID); err != nil {
				return err
			}
		}
		if u.State == state {
			return nil
		}
		u.State = state
		if err := s.audit(ctx, q, actor, u.ID, stateAction[state], ""); err != nil {
			return err
		}
		if state == core.StateActive {
			return nil
		}
		if err := q.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		// Revoked, not merely refused while inactive: reactivation must not
		// bring back tokens or invitations that may have leaked meanwhile.
		tokens, err := q.RevokeUserAPITokens(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			if err := s.audit(ctx, q, actor, u.ID, core.AuditTokenRevoked, t.Name); err != nil {
				return err
			}
		}
		return s.revokeInvitesBy(ctx, q, actor, u)
	})
}

var stateAction = map[core.State]core.AuditAction{
	core.StateActive:   core.AuditUserReactivated,
	core.StateInactive: core.AuditUserDeactivated,
	core.StateRemoved:  core.AuditUserRemoved,
}

// revokeInvitesBy withdraws the open invitations inviter sent, auditing
// each, in q's transaction.
func (s *Service) revokeInvitesBy(ctx context.Context, q *store.Q, actor, inviter *core.User) error {
	invs, err := q.RevokeInvitesBy(ctx, inviter.ID)
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if err := s.audit(ctx, q, actor, inviter.ID, core.AuditInviteRevoked, inv.Email); err != nil {
			return err
		}
	}
	return nil
}

// audit records an account change by actor about targetID in q's
// transaction. The client IP comes from the request's context (set by
// httpx.ClientIP), so callers need not thread it through; it is empty from
// the command line.
func (s *Service) audit(ctx context.Context, q *store.Q, actor *core.User, targetID int64, action core.AuditAction, detail string) error {
	return s.events.Record(ctx, q, core.Event{Action: action, WorkspaceID: actor.WorkspaceID, ActorID: actor.ID, TargetID: targetID,
		Detail: detail, IP: httpx.ClientIPFrom(ctx)})
}

func ensureAnotherAdmin(ctx context.Context, q *store.Q, workspaceID int64) error {
	n, err := q.CountActiveAdmins(ctx, workspaceID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return errLastAdmin
	}
	return nil
}

// activeAdmin re-reads actor in q's transaction and refuses unless they
// are still an active admin: the actor given by the caller was read before
// the transaction, and another admin may have demoted them since.
func activeAdmin(ctx context.Context, q *store.Q, actor *core.User) (*core.User, error) {
	fresh, err := q.UserInWorkspace(ctx, actor.WorkspaceID, actor.ID)
	if core.ErrorCode(err) == core.ENOTFOUND {
		return nil, core.ErrForbidden
	}
	if err != nil {
		return nil, err
	}
	if !fresh.IsAdmin() || fresh.State != core.StateActive {
		return nil, core.ErrForbidden
	}
	return fresh, nil
}

// changeUser loads a user of the actor's workspace in a transaction, lets
// change modify it and saves it. The workspace is locked first, so the
// last-admin count, the actor's own rights and the user are read after any
// concurrent change of admins has committed.
func (s *Service) changeUser(ctx context.Context, actor *core.User, id int64, change func(*store.Q, *core.User) error) (*core.User, error) {
	var u *core.User
	err := s.db.InTx(ctx, func(q *store.Q) error {
		if err := q.LockWorkspace(ctx, actor.WorkspaceID); err != nil {
			return err
		}
		if _, err := activeAdmin(ctx, q, actor); err != nil {
			return err
		}
		var err error
		if u, err = q.UserInWorkspaceToChange(ctx, actor.WorkspaceID, id); err != nil {
			return err
		}
		if err := change(q, u); err != nil {
			return err
		}
		return q.UpdateUser(ctx, u)
	})
	if err != nil {
		return nil, fmt.Errorf("change user %d: %w", id, err)
	}
	return u, nil
}

// Workspace returns the actor's workspace.
func (s *Service) Workspace(ctx context.Context, actor *core.User) (*core.Workspace, error) {
	ws, err := s.workspaces.Load(ctx, actor.WorkspaceID, func(ctx context.Context) (*core.Workspace, error) {
		return s.db.Reader().Workspace(ctx, actor.WorkspaceID)
	}, store.WorkspaceTag(actor.WorkspaceID))
	if err != nil {
		return nil, err
	}
	c := *ws // callers may change their copy
	return &c, nil
}

// DefaultWorkspace returns the first workspace, whose language serves pages
// shown before sign-in; nil when setup has not run.
func (s *Service) DefaultWorkspace(ctx context.Context) (*core.Workspace, error) {
	ws, err := s.db.Reader().FirstWorkspace(ctx)
	if core.ErrorCode(err) == core.ENOTFOUND {
		return nil, nil
	}
	return ws, err
}

// OutboxMails returns the dev outbox of the actor's workspace; admins only.
// Mail to other workspaces' people is never shown: it carries their
// reset links and sign-in codes.
func (s *Service) OutboxMails(ctx context.Context, actor *core.User, limit int) ([]*core.OutboxMail, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	return s.db.Reader().OutboxMails(ctx, actor.WorkspaceID, limit)
}
