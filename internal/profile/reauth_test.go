package profile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/profile"
	"roster/internal/security"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestSettingsChecksNeverLockSignIn: more wrong current passwords than the
// sign-in limit, typed in Change password and in the authenticator set-up,
// hit the re-authentication throttle (10 per user), are audited as failed
// checks, and never count against sign-in: the right password then signs
// in from the same address.
func TestSettingsChecksNeverLockSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		const ip = "5.5.5.5"
		limit := f.auth.Config().ReauthFailures
		if limit != 10 || f.auth.Config().AccountFailures != 10 {
			t.Fatalf("limits %d/%d, want the defaults", limit, f.auth.Config().AccountFailures)
		}
		pablo := f.login(t, "pablo@example.com")
		lucia := f.login(t, "lucia@example.com")
		f.now = f.now.Add(11 * time.Minute) // the current password is needed now

		forms := []struct {
			name  string
			email string
			try   func() error
		}{
			{"change password", "pablo@example.com", func() error {
				return f.prof.ChangePassword(ctx, pablo, profile.PasswordChange{Current: "wrong-password", New: "marmalade-orbit-77", IP: ip})
			}},
			{"authenticator set-up", "lucia@example.com", func() error {
				_, err := f.sec.StartTOTP(ctx, lucia, "wrong-password", "", "Acme", ip)
				return err
			}},
		}
		for _, form := range forms {
			for i := range limit + 3 {
				err := form.try()
				want := core.EINVALID
				if i >= limit {
					want = core.ETOOMANY
				}
				if core.ErrorCode(err) != want {
					t.Fatalf("%s, wrong password %d: %v, want %s", form.name, i+1, err, want)
				}
				if want == core.EINVALID && !strings.Contains(fmtKeys(err), "password_wrong") {
					t.Fatalf("%s, wrong password %d: %v", form.name, i+1, err)
				}
			}
			res, err := f.signIn(ctx, auth.LoginInput{Email: form.email, Password: "tangerine-violin", IP: ip})
			if err != nil || res == nil {
				t.Fatalf("sign-in after %d wrong passwords in %s: %v", limit+3, form.name, err)
			}
		}

		// Each wrong password is a failed check in the audit log (the
		// refused ones beyond the limit were never checked).
		entries, err := f.sec.Audit(ctx, f.admin, security.AuditQuery{Type: string(core.AuditReauthFailed)})
		if err != nil {
			t.Fatal(err)
		}
		per := map[int64]int{}
		for _, e := range entries {
			if e.Detail != "password" || e.ActorID != e.TargetID || e.IP != ip {
				t.Errorf("entry %+v", e)
			}
			per[e.TargetID]++
		}
		if per[f.plain.ID] != limit || per[f.access.ID] != limit {
			t.Fatalf("failed checks audited per user: %v, want %d each", per, limit)
		}
	})
}

func fmtKeys(err error) string {
	var out []string
	for k, v := range fieldKeys(err) {
		out = append(out, k+"="+v)
	}
	return strings.Join(out, " ")
}
