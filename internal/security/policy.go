package security

import (
	"context"
	"net/netip"
	"strings"

	"roster/internal/core"
	"roster/internal/store"
)

// MaxAllowlistEntries bounds an allowlist, so checking a request stays cheap.
const MaxAllowlistEntries = 1000

// ParseAllowlist reads an allowlist: one IPv4/IPv6 address or CIDR range
// per line (commas and spaces also separate), "#" starts a comment. It
// returns the ranges normalised (host bits cleared) and, when a line is not
// valid, a field error naming its line number.
func ParseAllowlist(text string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for n, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, item := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			p, err := parseEntry(item)
			if err != nil {
				return nil, &core.Error{Code: core.EINVALID, Key: "errors.invalid", Fields: []core.FieldError{{Field: "allowlist",
					Key: "errors.field.allowlist_invalid", Data: map[string]any{"Line": n + 1, "Value": item}}}}
			}
			out = append(out, p)
			if len(out) > MaxAllowlistEntries {
				return nil, &core.Error{Code: core.EINVALID, Key: "errors.invalid", Fields: []core.FieldError{{Field: "allowlist",
					Key: "errors.field.allowlist_too_long", Data: map[string]any{"Count": MaxAllowlistEntries}}}}
			}
		}
	}
	return out, nil
}

func parseEntry(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), unmapBits(p)).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmapBits keeps an IPv4-mapped IPv6 range's length meaningful for IPv4.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// Allowed reports whether ip is inside the allowlist; an empty list allows
// every address, and an unparsable ip is refused when a list is set.
func Allowed(list []netip.Prefix, ip string) bool {
	if len(list) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Policy is a workspace's security settings.
type Policy struct {
	RequireTwoFactor bool
	Allowlist        []netip.Prefix
	AllowlistText    string
}

// Policy returns the workspace's settings.
func (s *Service) Policy(ctx context.Context, workspaceID int64) (*Policy, error) {
	ws, err := s.db.Reader().Workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	list, err := ParseAllowlist(ws.IPAllowlist)
	if err != nil {
		list = nil // stored lists were validated; never lock everyone out on a bad row
	}
	return &Policy{RequireTwoFactor: ws.RequireTwoFactor, Allowlist: list, AllowlistText: ws.IPAllowlist}, nil
}

// WorkspacePolicy returns the settings of actor's workspace for showing
// them; admins only. (Policy, which the gates use, is not restricted.)
func (s *Service) WorkspacePolicy(ctx context.Context, actor *core.User) (*Policy, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	return s.Policy(ctx, actor.WorkspaceID)
}

// ErrIPNotAllowed refuses a sign-in or request from outside the workspace's
// IP allowlist.
var ErrIPNotAllowed = core.Errorf(core.EFORBIDDEN, "errors.ip_not_allowed")

// SignInGate is auth.Config.Gate: it refuses a sign-in from outside the
// allowlist before any session, challenge or mail exists.
func (s *Service) SignInGate(ctx context.Context, q *store.Q, user *core.User, ip string) error {
	ws, err := q.Workspace(ctx, user.WorkspaceID)
	if err != nil {
		return err
	}
	list, err := ParseAllowlist(ws.IPAllowlist)
	if err != nil {
		return nil // stored lists were validated; never lock everyone out on a bad row
	}
	if !Allowed(list, ip) {
		return ErrIPNotAllowed
	}
	return nil
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
		me, err := q.User(ctx, actor.ID)
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
		return q.Audit(ctx, &core.AuditEntry{WorkspaceID: ws.ID, ActorID: actor.ID, TargetID: actor.ID, Action: core.AuditRequireTwoFactor, Detail: detail, IP: ip})
	})
}

// SetAllowlist saves the workspace's IP allowlist; admins only. A list that
// would shut out the admin saving it (their current ip) is refused.
func (s *Service) SetAllowlist(ctx context.Context, actor *core.User, text, ip string) error {
	if !actor.IsAdmin() {
		return core.ErrForbidden
	}
	list, err := ParseAllowlist(text)
	if err != nil {
		return err
	}
	if !Allowed(list, ip) {
		return ErrAllowlistLockout
	}
	canonical := make([]string, len(list))
	for i, p := range list {
		canonical[i] = p.String()
	}
	return s.db.InTx(ctx, func(q *store.Q) error {
		ws, err := q.Workspace(ctx, actor.WorkspaceID)
		if err != nil {
			return err
		}
		ws.IPAllowlist = strings.Join(canonical, "\n")
		if err := q.SetWorkspaceSecurity(ctx, ws); err != nil {
			return err
		}
		return q.Audit(ctx, &core.AuditEntry{WorkspaceID: ws.ID, ActorID: actor.ID, TargetID: actor.ID, Action: core.AuditAllowlistChanged,
			Detail: strings.Join(canonical, ", "), IP: ip})
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
	if !Allowed(p.Allowlist, ip) {
		return GateIPRefused, nil
	}
	if p.RequireTwoFactor && !user.TwoFactorEnabled {
		return GateNeedsTwoFactor, nil
	}
	return GateOpen, nil
}
