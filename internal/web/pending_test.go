package web

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"roster/internal/store"
	"roster/internal/store/storetest"
)

// An authenticator set-up stays on screen, QR code and key, across a
// reload and a wrong code, until it is confirmed, cancelled or expires.
func TestPendingAuthenticatorSetupStaysOnScreen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		c := e.login("ada@acme.test")

		w := e.post("/settings/security/totp", c, url.Values{"password": {password}})
		wantStatus(t, w, http.StatusOK)
		key := submatch(t, totpSecretRE, w)

		// A reload shows the same key, the QR code, the code field, when it
		// expires and a way to cancel.
		w = e.get("/settings/security", c)
		wantStatus(t, w, http.StatusOK)
		checkNoInline(t, "pending setup", w.Body.String())
		if got := submatch(t, totpSecretRE, w); got != key {
			t.Fatalf("reload shows key %q, want %q", got, key)
		}
		wantContains(t, w, `<img class="qr" src="data:image/png;base64,`, groupKey(key), `action="/settings/security/totp/confirm"`,
			`id="totp-pending"`, "Waiting for the code until", `action="/settings/security/totp/cancel"`)

		// A wrong code: the error, with the QR code and key still shown.
		w = e.post("/settings/security/totp/confirm", c, url.Values{"code": {wrongCode(oathtool(t, key, now.Add(-30*time.Second)), oathtool(t, key, *now), oathtool(t, key, now.Add(30*time.Second)))}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This code is not correct or has expired.", `<img class="qr" src="data:image/png;base64,`,
			`action="/settings/security/totp/confirm"`, `action="/settings/security/totp/cancel"`)
		if got := submatch(t, totpSecretRE, w); got != key {
			t.Fatalf("after a wrong code the key is %q, want %q", got, key)
		}

		// Cancel: gone, the start form is back.
		wantRedirect(t, e.post("/settings/security/totp/cancel", c, nil), http.StatusSeeOther, "/settings/security?done=setup_cancelled")
		w = e.get("/settings/security?done=setup_cancelled", c)
		wantContains(t, w, "The set-up was cancelled.", `action="/settings/security/totp"`, "Set up")
		wantNotContains(t, w, `id="totp-secret"`, `action="/settings/security/totp/confirm"`, `action="/settings/security/totp/cancel"`)
		// Its key no longer turns the app on.
		w = e.post("/settings/security/totp/confirm", c, url.Values{"code": {oathtool(t, key, *now)}})
		wantStatus(t, w, http.StatusConflict)
		wantContains(t, w, "no setup is waiting for a code")

		// Expired: gone too.
		w = e.post("/settings/security/totp", c, url.Values{"password": {password}})
		wantStatus(t, w, http.StatusOK)
		key = submatch(t, totpSecretRE, w)
		*now = now.Add(10*time.Minute + time.Second)
		w = e.get("/settings/security", c)
		wantNotContains(t, w, `id="totp-secret"`, key, `action="/settings/security/totp/confirm"`, `action="/settings/security/totp/cancel"`)
		wantContains(t, w, `action="/settings/security/totp"`)

		// Unknown methods are not found.
		wantStatus(t, e.post("/settings/security/backup/cancel", c, nil), http.StatusNotFound)
	})
}

// The emailed-codes confirmation form survives a reload, until cancelled
// or expired.
func TestPendingEmailSetupStaysOnScreen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		c := e.login("ada@acme.test")

		w := e.post("/settings/security/email", c, url.Values{"password": {password}})
		wantStatus(t, w, http.StatusOK)
		code, _ := e.queue.find(t, "two_factor_code").Data["Code"].(string)

		w = e.get("/settings/security", c)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "We sent a 6-digit code to ada@acme.test.", `action="/settings/security/email/confirm"`,
			`id="email-pending"`, "Send a new code", `action="/settings/security/email/cancel"`)

		wantRedirect(t, e.post("/settings/security/email/cancel", c, nil), http.StatusSeeOther, "/settings/security?done=setup_cancelled")
		w = e.get("/settings/security", c)
		wantNotContains(t, w, `action="/settings/security/email/confirm"`, `action="/settings/security/email/cancel"`)
		wantStatus(t, e.post("/settings/security/email/confirm", c, url.Values{"code": {code}}), http.StatusConflict)
		// Cancelling what is not waiting says so on the page.
		w = e.post("/settings/security/email/cancel", c, nil)
		wantStatus(t, w, http.StatusConflict)
		wantContains(t, w, "no setup is waiting for a code")

		// Started again, then expired: the form is gone.
		wantStatus(t, e.post("/settings/security/email", c, url.Values{"password": {password}}), http.StatusOK)
		wantContains(t, e.get("/settings/security", c), `action="/settings/security/email/confirm"`)
		*now = now.Add(10*time.Minute + time.Second)
		w = e.get("/settings/security", c)
		wantNotContains(t, w, `action="/settings/security/email/confirm"`, `action="/settings/security/email/cancel"`)
		wantContains(t, w, `action="/settings/security/email"`)
	})
}
