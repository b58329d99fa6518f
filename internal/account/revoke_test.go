package account_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// inviteToken invites email as actor and returns the link's token.
func (f *fixture) inviteToken(t *testing.T, actor *core.User, email string) (*core.Invite, string) {
	t.Helper()
	inv, err := f.acc.Invite(context.Background(), actor, account.InviteInput{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	link := f.mail.sent[len(f.mail.sent)-1].Data["Link"].(string)
	return inv, strings.TrimPrefix(link, "https://roster.example/invite/")
}

func wantRevoked(t *testing.T, f *fixture, token string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := f.acc.OpenInvite(ctx, token); core.AsError(err) == nil || core.AsError(err).Key != "errors.invite_revoked" {
		t.Fatalf("open withdrawn invite: %v", err)
	}
	_, err := f.acc.AcceptInvite(ctx, account.AcceptInput{Token: token, Name: "Late", Password: "tangerine-violin"})
	if core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("withdrawn invite accepted: %v", err)
	}
}

func auditActions(t *testing.T, db *store.DB, workspaceID int64) map[core.AuditAction][]*core.AuditEntry {
	t.Helper()
	entries, err := db.Reader().WorkspaceAudit(context.Background(), store.AuditFilter{WorkspaceID: workspaceID})
	if err != nil {
		t.Fatal(err)
	}
	out := map[core.AuditAction][]*core.AuditEntry{}
	for _, e := range entries {
		out[e.Action] = append(out[e.Action], e)
	}
	return out
}

func TestRevokeInvite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		inv, token := f.inviteToken(t, f.admin, "guest@example.com")
		other, err := f.acc.CreateUser(ctx, account.CreateUserInput{Workspace: "Other", Name: "O", Email: "o@other.io", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		plain := f.user(t, "plain@example.com", core.RoleUser)
		if err := f.acc.RevokeInvite(ctx, other, inv.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("another workspace's admin revoked: %v", err)
		}
		if list, err := f.acc.OpenInvites(ctx, other); err != nil || len(list) != 0 {
			t.Fatalf("another workspace lists the invite: %v %v", list, err)
		}
		if err := f.acc.RevokeInvite(ctx, plain, inv.ID); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin revoked: %v", err)
		}
		if _, _, err := f.acc.OpenInvite(ctx, token); err != nil {
			t.Fatalf("refused revocations changed the invite: %v", err)
		}
		if err := f.acc.RevokeInvite(ctx, f.admin, inv.ID); err != nil {
			t.Fatal(err)
		}
		wantRevoked(t, f, token)
		if list, err := f.acc.OpenInvites(ctx, f.admin); err != nil || len(list) != 0 {
			t.Fatalf("revoked invite still listed: %v %v", list, err)
		}
		if err := f.acc.RevokeInvite(ctx, f.admin, inv.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("second revocation: %v", err)
		}
		got := auditActions(t, db, f.admin.WorkspaceID)[core.AuditInviteRevoked]
		if len(got) != 1 || got[0].ActorID != f.admin.ID || got[0].Detail != "guest@example.com" {
			t.Fatalf("revocation audit: %+v", got)
		}
	})
}

func TestInviteDiesWithInvitersRights(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		deact := f.user(t, "deact@example.com", core.RoleAdmin)
		demote := f.user(t, "demote@example.com", core.RoleAdmin)
		_, t1 := f.inviteToken(t, deact, "one@example.com")
		_, t2 := f.inviteToken(t, demote, "two@example.com")
		_, kept := f.inviteToken(t, f.admin, "kept@example.com")

		if _, err := f.acc.SetState(ctx, f.admin, deact.ID, core.StateInactive); err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.SetAccess(ctx, f.admin, demote.ID, account.AccessInput{Role: core.RoleUser}); err != nil {
			t.Fatal(err)
		}
		// Giving the rights back does not revive what was withdrawn.
		if _, err := f.acc.SetState(ctx, f.admin, deact.ID, core.StateActive); err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.SetAccess(ctx, f.admin, demote.ID, account.AccessInput{Role: core.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		wantRevoked(t, f, t1)
		wantRevoked(t, f, t2)
		if _, _, err := f.acc.OpenInvite(ctx, kept); err != nil {
			t.Fatalf("another admin's invite died: %v", err)
		}
		if n := len(auditActions(t, db, f.admin.WorkspaceID)[core.AuditInviteRevoked]); n != 2 {
			t.Fatalf("%d revocations audited, want 2", n)
		}
	})
}

// An invitation whose inviter lost the rights without the invitation being
// withdrawn (changed outside these rules, or before withdrawal existed)
// is refused at accept time by the query itself.
func TestInviteRefusedWhenInviterNoLongerAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		second := f.user(t, "second@example.com", core.RoleAdmin)
		inv, token := f.inviteToken(t, second, "x@example.com")
		second.State = core.StateInactive
		if err := db.Writer().UpdateUser(ctx, second); err != nil {
			t.Fatal(err)
		}
		wantRevoked(t, f, token)
		if ok, err := db.Writer().MarkInviteAccepted(ctx, inv.ID); err != nil || ok {
			t.Fatalf("store accepted the invite of an inactive inviter: %v %v", ok, err)
		}
		if list, err := f.acc.OpenInvites(ctx, f.admin); err != nil || len(list) != 0 {
			t.Fatalf("listed: %v %v", list, err)
		}
	})
}

func TestReactivationDoesNotReviveAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		second := f.user(t, "second@example.com", core.RoleAdmin)
		secret, _, err := f.auth.CreateAPIToken(ctx, second, "CRM sync", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, second.ID, core.StateInactive); err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, second.ID, core.StateActive); err != nil {
			t.Fatal(err)
		}
		if _, err := f.auth.Authenticate(ctx, secret, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("token came back with reactivation: %v", err)
		}
		got := auditActions(t, db, f.admin.WorkspaceID)[core.AuditTokenRevoked]
		if len(got) != 1 || got[0].TargetID != second.ID || got[0].Detail != "CRM sync" {
			t.Fatalf("token revocation audit: %+v", got)
		}
	})
}

func TestAccountChangesAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		u := f.user(t, "sam@example.com", core.RoleUser)
		if _, err := f.acc.SetAccess(ctx, f.admin, u.ID, account.AccessInput{Role: core.RoleUser, Rights: []core.Right{core.RightProfileAccess}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, u.ID, core.StateInactive); err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, u.ID, core.StateActive); err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, u.ID, core.StateRemoved); err != nil {
			t.Fatal(err)
		}
		_, token := f.inviteToken(t, f.admin, "new@example.com")
		revoked, _ := f.inviteToken(t, f.admin, "gone@example.com")
		if err := f.acc.RevokeInvite(ctx, f.admin, revoked.ID); err != nil {
			t.Fatal(err)
		}
		res, err := f.acc.AcceptInvite(ctx, account.AcceptInput{Token: token, Name: "Neo", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		_, tok, err := f.auth.CreateAPIToken(ctx, f.admin, "Sync", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.auth.RevokeAPIToken(ctx, f.admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		// A save that changes nothing records nothing.
		if _, err := f.acc.SetAccess(ctx, f.admin, res.User.ID, account.AccessInput{Role: core.RoleUser}); err != nil {
			t.Fatal(err)
		}

		got := auditActions(t, db, f.admin.WorkspaceID)
		want := []struct {
			action        core.AuditAction
			actor, target int64
			detail        string
		}{
			{core.AuditAccessChanged, f.admin.ID, u.ID, "user → user (profile-access)"},
			{core.AuditUserDeactivated, f.admin.ID, u.ID, ""},
			{core.AuditUserReactivated, f.admin.ID, u.ID, ""},
			{core.AuditUserRemoved, f.admin.ID, u.ID, ""},
			{core.AuditInviteRevoked, f.admin.ID, f.admin.ID, "gone@example.com"},
			{core.AuditInviteAccepted, res.User.ID, res.User.ID, "user"},
			{core.AuditTokenCreated, f.admin.ID, f.admin.ID, "Sync"},
			{core.AuditTokenRevoked, f.admin.ID, f.admin.ID, "Sync"},
		}
		for _, w := range want {
			es := got[w.action]
			if len(es) != 1 || es[0].ActorID != w.actor || es[0].TargetID != w.target || es[0].Detail != w.detail {
				t.Errorf("%s: %+v, want one by %d about %d with %q", w.action, es, w.actor, w.target, w.detail)
			}
		}
		if es := got[core.AuditInviteSent]; len(es) != 2 || es[0].TargetID != f.admin.ID {
			t.Errorf("invites sent: %+v", es)
		}
	})
}

// TestLastAdminUnderConcurrency has two admins demote, or deactivate, each
// other at the same moment, many times: at least one active admin must
// always remain. On PostgreSQL this needs the workspace lock; SQLite's one
// writer serialises the transactions.
func TestLastAdminUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		const rounds = 20
		for i := range rounds {
			var a, b *core.User
			err := db.InTx(ctx, func(q *store.Q) error {
				ws := &core.Workspace{Name: fmt.Sprintf("Race %d", i), Timezone: "UTC", Language: "en"}
				if err := q.CreateWorkspace(ctx, ws); err != nil {
					return err
				}
				for _, p := range []**core.User{&a, &b} {
					u := &core.User{WorkspaceID: ws.ID, Name: "Admin", Email: fmt.Sprintf("r%d-%p@example.com", i, p), Role: core.RoleAdmin,
						State: core.StateActive, Language: "en", Timezone: "UTC"}
					if err := q.CreateUser(ctx, u); err != nil {
						return err
					}
					*p = u
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j, pair := range [][2]*core.User{{a, b}, {b, a}} {
				wg.Go(func() {
					<-start
					if i%2 == 0 {
						_, errs[j] = f.acc.SetAccess(ctx, pair[0], pair[1].ID, account.AccessInput{Role: core.RoleUser})
					} else {
						_, errs[j] = f.acc.SetState(ctx, pair[0], pair[1].ID, core.StateInactive)
					}
				})
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				if err != nil && core.ErrorCode(err) != core.ECONFLICT && core.ErrorCode(err) != core.EFORBIDDEN {
					t.Fatalf("round %d: %v", i, err)
				}
			}
			n, err := db.Reader().CountActiveAdmins(ctx, a.WorkspaceID)
			if err != nil {
				t.Fatal(err)
			}
			if n < 1 {
				t.Fatalf("round %d: no active admin left (errors %v)", i, errs)
			}
		}
	})
}
