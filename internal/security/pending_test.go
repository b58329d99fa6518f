package security_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/security"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// A set-up started and not confirmed is part of the status until it is
// confirmed, cancelled or expires; its authenticator key can be shown
// again (from a browser session only).
func TestPendingTOTPSetup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		bearer, _ := f.signIn(t, "bo@example.com", core.SessionAPI)

		st, err := f.sec.Status(ctx, p.User)
		if err != nil || st.PendingTOTP != nil || st.PendingEmail != nil {
			t.Fatalf("pending before any set-up: %+v (%v)", st, err)
		}
		if _, err := f.sec.PendingTOTPSetup(ctx, p, "Acme"); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("key of no set-up: %v", keys(err))
		}
		started, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		st, err = f.sec.Status(ctx, p.User)
		if err != nil || st.PendingTOTP == nil || !st.PendingTOTP.ExpiresAt.Equal(f.now.Add(security.TOTPSetupTTL).Truncate(time.Millisecond)) {
			t.Fatalf("pending after start: %+v (%v)", st.PendingTOTP, err)
		}
		if st.TOTP || st.Enabled() {
			t.Fatal("a set-up counts as on")
		}
		// A wrong code leaves it waiting, with the same key.
		if _, err := f.sec.ConfirmTOTP(ctx, p, "000000", ""); !strings.Contains(keys(err), "code_wrong") {
			t.Fatalf("wrong code: %v", keys(err))
		}
		again, err := f.sec.PendingTOTPSetup(ctx, p, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		if again.Secret != started.Secret || again.URI != started.URI || len(again.QRPNG) < 100 {
			t.Fatalf("the key shown again differs: %q vs %q", again.URI, started.URI)
		}
		if _, err := f.sec.PendingTOTPSetup(ctx, bearer, "Acme"); err != security.ErrWebOnly {
			t.Fatalf("key shown to a bearer token: %v", err)
		}
		if err := f.sec.CancelSetup(ctx, bearer, core.MethodTOTP); err != security.ErrWebOnly {
			t.Fatalf("cancelled from a bearer token: %v", err)
		}

		// Cancelled: gone, and its key no longer turns the app on.
		if err := f.sec.CancelSetup(ctx, p, core.MethodTOTP); err != nil {
			t.Fatal(err)
		}
		if st, _ := f.sec.Status(ctx, p.User); st.PendingTOTP != nil {
			t.Fatal("still pending after cancel")
		}
		if _, err := f.sec.ConfirmTOTP(ctx, p, oathtool(t, started.Secret, f.now), ""); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("confirm after cancel: %v", keys(err))
		}
		if err := f.sec.CancelSetup(ctx, p, core.MethodTOTP); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("cancel twice: %v", keys(err))
		}

		// Expired: gone too, and a right code is refused.
		started, err = f.sec.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(security.TOTPSetupTTL)
		if st, _ := f.sec.Status(ctx, p.User); st.PendingTOTP != nil {
			t.Fatal("an expired set-up is still pending")
		}
		if _, err := f.sec.PendingTOTPSetup(ctx, p, "Acme"); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("key of an expired set-up: %v", keys(err))
		}
		if _, err := f.sec.ConfirmTOTP(ctx, p, oathtool(t, started.Secret, f.now), ""); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("confirm after expiry: %v", keys(err))
		}
		// Cancelling an expired one clears it away.
		if err := f.sec.CancelSetup(ctx, p, core.MethodTOTP); err != nil {
			t.Fatalf("cancel an expired set-up: %v", err)
		}

		// A method that is on is not cancelled.
		f.enableTOTP(t, p)
		if err := f.sec.CancelSetup(ctx, p, core.MethodTOTP); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("cancel an enabled method: %v", keys(err))
		}
		if st, _ := f.sec.Status(ctx, p.User); !st.TOTP || st.PendingTOTP != nil {
			t.Fatalf("status after cancelling an enabled method: %+v", st)
		}
	})
}

func TestPendingEmailSetup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)

		if err := f.sec.StartEmail(ctx, p, "tangerine-violin", "", ""); err != nil {
			t.Fatal(err)
		}
		st, err := f.sec.Status(ctx, p.User)
		if err != nil || st.PendingEmail == nil || st.Email || !st.PendingEmail.ExpiresAt.Equal(f.now.Add(security.EmailCodeTTL).Truncate(time.Millisecond)) {
			t.Fatalf("pending after start: %+v (%v)", st.PendingEmail, err)
		}
		code := f.mail.last("two_factor_code").Data["Code"].(string)

		// Cancelled: gone, and the code mailed no longer turns it on.
		if err := f.sec.CancelSetup(ctx, p, core.MethodEmail); err != nil {
			t.Fatal(err)
		}
		if st, _ := f.sec.Status(ctx, p.User); st.PendingEmail != nil {
			t.Fatal("still pending after cancel")
		}
		if _, err := f.sec.ConfirmEmail(ctx, p, code, ""); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("confirm after cancel: %v", keys(err))
		}
		if st, _ := f.sec.Status(ctx, p.User); st.Email {
			t.Fatal("email codes on after a cancelled set-up")
		}

		// Started again, then expired: gone, and its code is refused.
		if err := f.sec.StartEmail(ctx, p, "tangerine-violin", "", ""); err != nil {
			t.Fatal(err)
		}
		code = f.mail.last("two_factor_code").Data["Code"].(string)
		if st, _ := f.sec.Status(ctx, p.User); st.PendingEmail == nil {
			t.Fatal("not pending after starting again")
		}
		f.now = f.now.Add(security.EmailCodeTTL)
		if st, _ := f.sec.Status(ctx, p.User); st.PendingEmail != nil {
			t.Fatal("an expired set-up is still pending")
		}
		if _, err := f.sec.ConfirmEmail(ctx, p, code, ""); !strings.Contains(keys(err), "two_factor_setup_missing") {
			t.Fatalf("confirm after expiry: %v", keys(err))
		}

		// Started again and confirmed: on, nothing pending.
		if err := f.sec.StartEmail(ctx, p, "tangerine-violin", "", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.sec.ConfirmEmail(ctx, p, f.mail.last("two_factor_code").Data["Code"].(string), ""); err != nil {
			t.Fatal(err)
		}
		if st, _ := f.sec.Status(ctx, p.User); !st.Email || st.PendingEmail != nil {
			t.Fatalf("after confirming: %+v", st)
		}
	})
}
