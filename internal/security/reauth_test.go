package security_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/security"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestSpentAuthenticatorCodeIsSaidUsed: an authenticator code whose step
// was already accepted is refused as "already used, wait for the next
// one", not as wrong, at sign-in and in the forms that turn a method off
// or renew backup codes; a wrong code is still just wrong.
func TestSpentAuthenticatorCodeIsSaidUsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		secret, _ := f.enableTOTP(t, p) // spends the code of f.now
		p, _ = f.signIn(t, "bo@example.com", core.SessionWeb)
		spent := oathtool(t, secret, f.now)

		if err := f.sec.Disable(ctx, p, core.MethodTOTP, "tangerine-violin", spent, ""); !strings.Contains(keys(err), "code=errors.field.code_used") {
			t.Fatalf("disable with a spent code: %v", keys(err))
		}
		if _, err := f.sec.RegenerateBackupCodes(ctx, p, "tangerine-violin", spent, ""); !strings.Contains(keys(err), "code=errors.field.code_used") {
			t.Fatalf("renew backup codes with a spent code: %v", keys(err))
		}
		ch := f.challenge(t, auth.LoginInput{Email: "bo@example.com"})
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, spent, ""); !strings.Contains(keys(err), "code=errors.field.code_used") {
			t.Fatalf("sign-in with a spent code: %v", keys(err))
		}
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, "000000", ""); !strings.Contains(keys(err), "code=errors.field.code_wrong") {
			t.Fatalf("sign-in with a wrong code: %v", keys(err))
		}
		f.now = f.now.Add(30 * time.Second)
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, oathtool(t, secret, f.now), ""); err != nil {
			t.Fatalf("the next code: %v", err)
		}
	})
}

// TestWrongCodesInSettingsNeverLockSignIn: wrong codes typed to turn a
// method off count against the user's re-authentication throttle (10),
// are audited as failed checks, and leave sign-in open.
func TestWrongCodesInSettingsNeverLockSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setupWith(t, db, auth.Config{}) // the default limits
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		secret, _ := f.enableTOTP(t, p)
		p, _ = f.signIn(t, "bo@example.com", core.SessionWeb)
		const tries = 13
		for i := range tries {
			err := f.sec.Disable(ctx, p, core.MethodTOTP, "tangerine-violin", "000000", "6.6.6.6")
			want := core.EINVALID
			if i >= 10 {
				want = core.ETOOMANY
			}
			if core.ErrorCode(err) != want {
				t.Fatalf("wrong code %d: %v, want %s", i+1, err, want)
			}
		}
		ch := f.challenge(t, auth.LoginInput{Email: "bo@example.com", IP: "6.6.6.6"})
		f.now = f.now.Add(30 * time.Second)
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, oathtool(t, secret, f.now), "6.6.6.6"); err != nil {
			t.Fatalf("sign-in after %d wrong codes in Settings: %v", tries, err)
		}
		entries, err := f.sec.Audit(ctx, f.admin, security.AuditQuery{Type: string(core.AuditReauthFailed)})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 10 {
			t.Fatalf("%d failed checks audited, want 10", len(entries))
		}
		for _, e := range entries {
			if e.Detail != "code" || e.TargetID != p.User.ID || e.IP != "6.6.6.6" {
				t.Fatalf("failed check %+v, want one about a code", e)
			}
		}
	})
}
