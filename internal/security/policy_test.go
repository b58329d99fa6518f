package security_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/security"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestParseAllowlist(t *testing.T) {
	list, err := core.ParseAllowlist("# office\n203.0.113.7\n198.51.100.0/24, 2001:db8::/32\n\n10.1.2.3/8 # vpn\n::ffff:192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"203.0.113.7/32", "198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8", "192.0.2.1/32"}
	if len(list) != len(want) {
		t.Fatalf("got %v", list)
	}
	for i, p := range list {
		if p.String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, p, want[i])
		}
	}
	for _, bad := range []string{"300.1.1.1", "10.0.0.0/33", "example.com", "1.2.3.4/", "::/129"} {
		_, err := core.ParseAllowlist("1.2.3.4\n" + bad)
		e := core.AsError(err)
		if e == nil || e.Fields[0].Key != "errors.field.allowlist_invalid" || e.Fields[0].Data["Line"] != 2 {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for ip, ok := range map[string]bool{"203.0.113.7": true, "203.0.113.8": false, "198.51.100.250": true, "2001:db8::1": true,
		"::ffff:10.9.9.9": true, "192.0.2.1": true, "garbage": false} {
		if core.Allowed(list, ip) != ok {
			t.Errorf("Allowed(%s) != %v", ip, ok)
		}
	}
	if !core.Allowed(nil, "anything") {
		t.Error("an empty list must allow everyone")
	}
}

// FuzzParseAllowlist: whatever is typed, parsing never panics; every range
// it accepts is normalised and contains its own first address.
func FuzzParseAllowlist(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "1.2.3.4", "2001:db8::/32\n# c", "::ffff:1.2.3.4/120", "a,b c", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := core.ParseAllowlist(s)
		if err != nil {
			return
		}
		for _, p := range list {
			if p != p.Masked() || !p.Contains(p.Addr()) || !core.Allowed([]netip.Prefix{p}, p.Addr().String()) {
				t.Fatalf("%q gave %v", s, p)
			}
			again, err := core.ParseAllowlist(p.String())
			if err != nil || len(again) != 1 || again[0] != p {
				t.Fatalf("%v does not round-trip: %v %v", p, again, err)
			}
		}
	})
}

func TestWorkspacePolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if err := f.sec.SetRequireTwoFactor(ctx, f.admin, true, ""); err != security.ErrRequireOwnTwoFactor {
			t.Fatalf("non-compliant admin made 2FA mandatory: %v", err)
		}
		if err := f.sec.SetRequireTwoFactor(ctx, f.user, true, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin: %v", err)
		}
		p, _ := f.signIn(t, "ana@example.com", core.SessionWeb)
		f.enableTOTP(t, p)
		if err := f.sec.SetRequireTwoFactor(ctx, f.admin, true, "1.1.1.1"); err != nil {
			t.Fatal(err)
		}
		bo, _ := db.Reader().User(ctx, f.user.ID)
		if g, _ := f.sec.Check(ctx, bo, "1.1.1.1"); g != security.GateNeedsTwoFactor {
			t.Fatalf("user without 2FA passes a mandatory policy: %v", g)
		}
		ana, _ := db.Reader().User(ctx, f.admin.ID)
		if g, _ := f.sec.Check(ctx, ana, "1.1.1.1"); g != security.GateOpen {
			t.Fatalf("compliant admin stopped: %v", g)
		}

		if err := f.sec.SetAllowlist(ctx, f.admin, "198.51.100.0/24", "203.0.113.9"); err != security.ErrAllowlistLockout {
			t.Fatalf("self-lockout allowed: %v", err)
		}
		if err := f.sec.SetAllowlist(ctx, f.admin, "198.51.100.0/24\n203.0.113.9", "203.0.113.9"); err != nil {
			t.Fatal(err)
		}
		if g, _ := f.sec.Check(ctx, ana, "192.0.2.50"); g != security.GateIPRefused {
			t.Fatalf("outside address passes: %v", g)
		}
		if g, _ := f.sec.Check(ctx, ana, "198.51.100.7"); g != security.GateOpen {
			t.Fatalf("inside address refused: %v", g)
		}
		pol, _ := f.sec.Policy(ctx, f.admin.WorkspaceID)
		if pol.AllowlistText != "198.51.100.0/24\n203.0.113.9/32" || !pol.RequireTwoFactor {
			t.Fatalf("policy: %+v", pol)
		}
		log, _ := db.Reader().AuditLog(ctx, f.admin.WorkspaceID, f.admin.ID, 10)
		var actions []string
		for _, e := range log {
			actions = append(actions, string(e.Action))
		}
		if !strings.Contains(strings.Join(actions, " "), "workspace.ip_allowlist") || !strings.Contains(strings.Join(actions, " "), "workspace.require_two_factor") {
			t.Fatalf("audit: %v", actions)
		}
		// Clearing the list opens it again.
		if err := f.sec.SetAllowlist(ctx, f.admin, "", "192.0.2.50"); err != nil {
			t.Fatal(err)
		}
		if g, _ := f.sec.Check(ctx, ana, "192.0.2.50"); g != security.GateOpen {
			t.Fatal("empty list still refuses")
		}
	})
}

// TestSignInRefusedOutsideAllowlist: with the workspace's IP allowlist set,
// a sign-in with the right password from outside it is refused with
// core.ErrIPNotAllowed before anything exists (no session for a user
// without two-step verification; no challenge and no code mail for one
// with it), and the refusal is recorded as a failed sign-in; from inside
// the list both sign in. A second step completed from outside is refused
// the same way.
func TestSignInRefusedOutsideAllowlist(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		// Bo signs in with emailed codes, so a second step would mail one.
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		backup := f.enableEmail(t, p)
		const listed, outside, inside = "198.51.100.0/24", "192.0.2.50", "198.51.100.20"
		if err := f.sec.SetAllowlist(ctx, f.admin, listed, "198.51.100.7"); err != nil {
			t.Fatal(err)
		}

		sessions := func(u *core.User) int {
			t.Helper()
			all, err := db.Reader().UserSessions(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return len(all)
		}
		challenges := func(u *core.User) int {
			t.Helper()
			var n int
			if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM two_factor_challenges WHERE user_id = "+fmt.Sprint(u.ID)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		mails := func() int {
			f.mail.mu.Lock()
			defer f.mail.mu.Unlock()
			return len(f.mail.sent)
		}
		failures := func(u *core.User) []*core.AuditEntry {
			t.Helper()
			all, err := db.Reader().WorkspaceAudit(ctx, store.AuditFilter{WorkspaceID: u.WorkspaceID, TargetID: u.ID,
				Action: string(core.AuditSignInFailed), Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return all
		}
		refused := func(what string, u *core.User, fn func() error) {
			t.Helper()
			sess, chs, sent, failed := sessions(u), challenges(u), mails(), len(failures(u))
			if err := fn(); !errors.Is(err, core.ErrIPNotAllowed) {
				t.Fatalf("%s from outside the allowlist: %v, want ErrIPNotAllowed", what, err)
			}
			if n := sessions(u); n != sess {
				t.Errorf("%s from outside: %d sessions, want %d", what, n, sess)
			}
			if n := challenges(u); n != chs {
				t.Errorf("%s from outside: %d challenges, want %d", what, n, chs)
			}
			if n := mails(); n != sent {
				t.Errorf("%s from outside: %d mails sent, want %d (last %+v)", what, n, sent, f.mail.sent[n-1])
			}
			log := failures(u)
			if len(log) != failed+1 || log[0].Detail != "ip_not_allowed" || log[0].IP != outside {
				t.Fatalf("%s from outside: failed sign-ins recorded %+v", what, log)
			}
		}

		// Without two-step verification: no session.
		refused("sign-in without 2FA", f.admin, func() error {
			res, err := f.sec.SignIn(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: outside})
			if res != nil {
				t.Errorf("refused sign-in answered %+v", res)
			}
			return err
		})
		// With it: no challenge, no code mail.
		refused("sign-in with 2FA", f.user, func() error {
			res, err := f.sec.SignIn(ctx, auth.LoginInput{Email: "bo@example.com", Password: "tangerine-violin", IP: outside})
			if res != nil {
				t.Errorf("refused sign-in answered %+v", res)
			}
			return err
		})

		// From inside the list both sign in.
		sess := sessions(f.admin)
		res, err := f.sec.SignIn(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: inside})
		if err != nil || res.LoginResult == nil || res.Token == "" || res.Challenge != nil {
			t.Fatalf("sign-in from inside: %+v %v", res, err)
		}
		if n := sessions(f.admin); n != sess+1 {
			t.Fatalf("sign-in from inside: %d sessions, want %d", n, sess+1)
		}
		chs := challenges(f.user)
		ch := f.challenge(t, auth.LoginInput{Email: "bo@example.com", IP: inside})
		if !ch.EmailSent || challenges(f.user) != chs+1 {
			t.Fatalf("second step from inside: %+v, %d challenges, want %d", ch, challenges(f.user), chs+1)
		}
		code := f.mail.last("two_factor_code").Data["Code"].(string)
		// Its second step from outside opens no session either.
		refused("second step", f.user, func() error {
			res, err := f.sec.VerifyLogin(ctx, ch.Token, backup[0], outside)
			if res != nil {
				t.Errorf("refused second step answered %+v", res)
			}
			return err
		})
		sess = sessions(f.user)
		done, err := f.sec.VerifyLogin(ctx, ch.Token, code, inside)
		if err != nil || done.LoginResult == nil || done.Token == "" {
			t.Fatalf("second step from inside: %+v %v", done, err)
		}
		if n := sessions(f.user); n != sess+1 {
			t.Fatalf("second step from inside: %d sessions, want %d", n, sess+1)
		}
	})
}

// TestPolicySavesKeepEachOther: mandatory two-step verification and the
// allowlist are two fields of one workspace row, each saved by reading
// the row and writing it back. Saved at once by two admins' tabs, neither
// may undo the other (on PostgreSQL the workspace is locked first).
func TestPolicySavesKeepEachOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "ana@example.com", core.SessionWeb)
		f.enableTOTP(t, p)
		const saves = 101
		errs := make(chan error, 2*saves)
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 1; i <= saves; i++ {
				errs <- f.sec.SetRequireTwoFactor(ctx, f.admin, i%2 == 1, "")
			}
		})
		wg.Go(func() {
			for i := 1; i <= saves; i++ {
				ip := fmt.Sprintf("10.0.0.%d", i)
				errs <- f.sec.SetAllowlist(ctx, f.admin, ip, ip)
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		pol, err := f.sec.Policy(ctx, f.admin.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if !pol.RequireTwoFactor || pol.AllowlistText != fmt.Sprintf("10.0.0.%d/32", saves) {
			t.Fatalf("after both kinds of save: mandatory %v, allowlist %q; one undid the other", pol.RequireTwoFactor, pol.AllowlistText)
		}
	})
}
