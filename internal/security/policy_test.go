package security_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/security"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestParseAllowlist(t *testing.T) {
	list, err := security.ParseAllowlist("# office\n203.0.113.7\n198.51.100.0/24, 2001:db8::/32\n\n10.1.2.3/8 # vpn\n::ffff:192.0.2.1")
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
		_, err := security.ParseAllowlist("1.2.3.4\n" + bad)
		e := core.AsError(err)
		if e == nil || e.Fields[0].Key != "errors.field.allowlist_invalid" || e.Fields[0].Data["Line"] != 2 {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for ip, ok := range map[string]bool{"203.0.113.7": true, "203.0.113.8": false, "198.51.100.250": true, "2001:db8::1": true,
		"::ffff:10.9.9.9": true, "192.0.2.1": true, "garbage": false} {
		if security.Allowed(list, ip) != ok {
			t.Errorf("Allowed(%s) != %v", ip, ok)
		}
	}
	if !security.Allowed(nil, "anything") {
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
		list, err := security.ParseAllowlist(s)
		if err != nil {
			return
		}
		for _, p := range list {
			if p != p.Masked() || !p.Contains(p.Addr()) || !security.Allowed([]netip.Prefix{p}, p.Addr().String()) {
				t.Fatalf("%q gave %v", s, p)
			}
			again, err := security.ParseAllowlist(p.String())
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
