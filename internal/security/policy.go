package security

import (
	"context"
	"net/netip"
	"strings"

	"roster/internal/core"
	"roster/internal/store"
)

// Policy is a workspace's security settings.
type Policy struct {
	RequireTwoFactor bool
	Allowlist        []netip.Prefix
	AllowlistText    string
}

// Policy returns the workspace's settings. Every request's gate reads
// them, so they are cached; a change drops them on every instance.
func (s *Service) Policy(ctx context.Context, workspaceID int64) (*Policy, error) {
	return s.policies.Load(ctx, workspaceID, func(ctx context.Context) (*Policy, error) {
		ws, err := s.db.Reader().Workspace(ctx, workspaceID)
		if err != nil {
			return nil, err
		}
		list, err := core.ParseAllowlist(ws.IPAllowlist)
		if err != nil {
			list = nil // stored lists were validated; never lock everyone out on a bad row
		}
		return &Policy{RequireTwoFactor: ws.RequireTwoFactor, Allowlist: list, AllowlistText: ws.IPAllowlist}, nil
	}, store.WorkspaceTag(workspaceID))
}

// WorkspacePolicy returns the settings of actor's workspace for showing
// them; admins only. (Policy, which the gates use, is not restricted.)
func (s *Service) WorkspacePolicy(ctx context.Context, actor *core.User) (*Policy, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	return s.Policy(ctx, actor.WorkspaceID)
}

// ErrRequireOwnTwoFactor refuses making two-step verification mandatory by
// an admin who has it off.
var ErrRequireOwnTwoFactor = core.Errorf(core.ECONFLICT, "errors.require_2fa_self")

// ErrAllowlistLockout refuses an allowlist that excludes the admin saving it.
var ErrAllowlistLockout = core.Errorf(core.ECONFLICT, "errors.allowlist_self_lockout")

// SetRequireTwoFactor switches mandatory two-step verification; admins
// only, and only while their own is on.
func (s *Service) SetRequireTwoFactor(ctx context.Context, actor *core.User, on bool, ip string) error {
	if !actor.IsAdmin() {
		return core.ErrForbidden
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		// Workspace first, then user: the order every transaction that
		// takes both locks keeps (account's changeUser too), so two never
		// wait on each other. The lock also keeps a concurrent allowlist
		// save from being undone by this whole-row write.
		if err := q.LockWorkspace(ctx, actor.WorkspaceID); err != nil {
			return err
		}
		// Locked so the admin's own two-step verification cannot be
		// switched off between this check and the commit.
		me, err := q.UserToChange(ctx, actor.ID)
		if err != nil {
			return err
		}
		if on && !me.TwoFactorEnabled {
			return ErrRequireOwnTwoFactor
		}
		ws, err := q.Workspace(ctx, actor.WorkspaceID)
		if err != nil {
			return err
		}
		if ws.RequireTwoFactor == on {
			return nil
		}
		ws.RequireTwoFactor = on
		if err := q.SetWorkspaceSecurity(ctx, ws); err != nil {
			return err
		}
		detail := "off"
		if on {
			detail = "on"
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditRequireTwoFactor, WorkspaceID: ws.ID, ActorID: actor.ID,
			TargetID: actor.ID, Detail: detail, IP: ip})
	})
}

// SetAllowlist saves the workspace's IP allowlist; admins only. A list that
// would shut out the admin saving it (their current ip) is refused.
func (s *Service) SetAllowlist(ctx context.Context, actor *core.User, text, ip string) error {
	if !actor.IsAdmin() {
		return core.ErrForbidden
	}
	list, err := core.ParseAllowlist(text)
	if err != nil {
		return err
	}
	if !core.Allowed(list, ip) {
		return ErrAllowlistLockout
	}
	canonical := make([]string, len(list))
	for i, p := range list {
		canonical[i] = p.String()
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		// Locked: SetRequireTwoFactor writes the same row whole.
		if err := q.LockWorkspace(ctx, actor.WorkspaceID); err != nil {
			return err
		}
		ws, err := q.Workspace(ctx, actor.WorkspaceID)
		if err != nil {
			return err
		}
		ws.IPAllowlist = strings.Join(canonical, "\n")
		if err := q.SetWorkspaceSecurity(ctx, ws); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditAllowlistChanged, WorkspaceID: ws.ID, ActorID: actor.ID,
			TargetID: actor.ID, Detail: strings.Join(canonical, ", "), IP: ip})
	})
}

// Gate is what a request must pass under the workspace's policy.
type Gate int

// Gates.
const (
	GateOpen           Gate = iota
	GateIPRefused           // outside the allowlist
	GateNeedsTwoFactor      // two-step verification is mandatory and off for this user
)

// Check decides whether user may proceed from ip under their workspace's
// policy.
func (s *Service) Check(ctx context.Context, user *core.User, ip string) (Gate, error) {
	p, err := s.Policy(ctx, user.WorkspaceID)
	if err != nil {
		return GateOpen, err
	}
	if !core.Allowed(p.Allowlist, ip) {
		return GateIPRefused, nil
	}
	if p.RequireTwoFactor && !user.TwoFactorEnabled {
		return GateNeedsTwoFactor, nil
	}
	return GateOpen, nil
}
