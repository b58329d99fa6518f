package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/store"
	"roster/internal/store/storetest"
	"roster/internal/testenv"
)

var (
	totpSecretRE  = regexp.MustCompile(`<code id="totp-secret" class="secret">([A-Z2-7]+)</code>`)
	challengeRE   = regexp.MustCompile(`name="challenge" value="([^"]+)"`)
	backupListRE  = regexp.MustCompile(`(?s)<ul id="backup-codes"[^>]*>(.*?)</ul>`)
	backupItemRE  = regexp.MustCompile(`<li>([^<]+)</li>`)
	revokeFormsRE = regexp.MustCompile(`action="/settings/security/sessions/(\d+)/revoke"`)
)

// oathtool computes the TOTP code of key at t with the real oathtool, as an
// authenticator app would.
func oathtool(t testing.TB, key string, at time.Time) string {
	t.Helper()
	bin, err := exec.LookPath("oathtool")
	if err != nil {
		testenv.SkipOrFail(t, "oathtool is not installed (apt-get install -y oathtool); the authenticator test did not run")
	}
	out, err := exec.Command(bin, "--totp", "-b", key, "-N", "@"+strconv.FormatInt(at.Unix(), 10)).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// wrongCode returns a 6-digit code that is none of the codes the
// authenticator accepts right now, so a "wrong code" case always runs.
func wrongCode(accepted ...string) string {
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !slices.Contains(accepted, c) {
			return c
		}
	}
	panic("unreachable: four candidates, three accepted codes")
}

func submatch(t testing.TB, re *regexp.Regexp, w *httptest.ResponseRecorder) string {
	t.Helper()
	m := re.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no match for %s in: %.2000s", re, w.Body.String())
	}
	return html.UnescapeString(m[1])
}

func backupCodes(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	list := submatch(t, backupListRE, w)
	var out []string
	for _, m := range backupItemRE.FindAllStringSubmatch(list, -1) {
		out = append(out, m[1])
	}
	return out
}

// fixedClock sets the database clock to a movable time, starting 5 s into
// a 30-second TOTP step so that a step is never crossed by accident.
func fixedClock(db *store.DB) *time.Time {
	now := time.Unix(time.Now().Unix()/30*30+5, 0)
	db.SetClock(func() time.Time { return now })
	return &now
}

// signInFirstStep posts the password and returns the challenge of the
// second page.
func (e *env) signInFirstStep(email, next string) string {
	e.t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	w := e.post("/login", "", form)
	wantStatus(e.t, w, http.StatusOK)
	if sessionCookie(w) != nil {
		e.t.Fatal("a session cookie was set before the second step")
	}
	wantContains(e.t, w, "Two-step verification", `autocomplete="one-time-code"`, `inputmode="numeric"`)
	if next := safeNext(next); next != "" {
		wantContains(e.t, w, `<input type="hidden" name="next" value="`+next+`">`)
	} else {
		wantNotContains(e.t, w, `name="next"`)
	}
	return submatch(e.t, challengeRE, w)
}

// verify posts the second page's form; next is what its hidden field holds.
func (e *env) verify(challenge, code string, next ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	form := url.Values{"challenge": {challenge}, "code": {code}}
	if len(next) > 0 {
		form.Set("next", next[0])
	}
	return e.post("/login/verify", "", form)
}

func TestTwoFactorAuthenticatorApp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		c := e.login("ada@acme.test")
		other := e.login("ada@acme.test")

		w := e.get("/settings/security", c)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `action="/settings/security/totp"`, `action="/settings/security/email"`)
		wantNotContains(t, w, `id="backup-codes"`)

		// The password comes first.
		w = e.post("/settings/security/totp", c, url.Values{"password": {"wrong password"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "The current password is not correct.")
		wantNotContains(t, w, `id="totp-secret"`)

		w = e.post("/settings/security/totp", c, url.Values{"password": {password}})
		wantStatus(t, w, http.StatusOK)
		checkNoInline(t, "totp setup", w.Body.String())
		key := submatch(t, totpSecretRE, w)
		wantContains(t, w, `<img class="qr" src="data:image/png;base64,`, groupKey(key), `action="/settings/security/totp/confirm"`)
		// The confirm form carries no key: it is kept on the server.
		if strings.Count(w.Body.String(), key) != 1 {
			t.Errorf("the key appears %d times on the page, want once (in #totp-secret)", strings.Count(w.Body.String(), key))
		}

		w = e.post("/settings/security/totp/confirm", c, url.Values{"code": {wrongCode(oathtool(t, key, now.Add(-30*time.Second)), oathtool(t, key, *now), oathtool(t, key, now.Add(30*time.Second)))}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This code is not correct or has expired.", `action="/settings/security/totp/confirm"`)

		enableCode := oathtool(t, key, *now)
		w = e.post("/settings/security/totp/confirm", c, url.Values{"code": {enableCode}})
		wantStatus(t, w, http.StatusOK)
		checkNoInline(t, "backup codes", w.Body.String())
		codes := backupCodes(t, w)
		if len(codes) != 10 {
			t.Fatalf("%d backup codes shown, want 10", len(codes))
		}
		wantContains(t, w, `download="roster-backup-codes.txt"`, `href="data:text/plain;charset=utf-8,`,
			"Your other devices were signed out.", url.PathEscape(codes[0]))
		// The other session ended; this one goes on.
		wantStatus(t, e.get("/settings/security", other), http.StatusFound)
		w = e.get("/settings/security", c)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "10 backup codes left.", `action="/settings/security/totp/disable"`)
		wantNotContains(t, w, `id="backup-codes"`, codes[0])
		wantContains(t, e.get("/settings/users", c), ">App</span>")

		// Sign out, then in: the password is not enough.
		wantRedirect(t, e.post("/logout", c, nil), http.StatusSeeOther, "/login")
		ch := e.signInFirstStep("ada@acme.test", "/settings/users")
		w = e.verify(ch, "123456")
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This code is not correct or has expired.", ch)
		if sessionCookie(w) != nil {
			t.Fatal("a wrong code set a session cookie")
		}
		// The code that turned the app on was spent: a replay is refused,
		// saying so and to wait for the next code.
		w = e.verify(ch, enableCode)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This code was already used. Wait for the next code in your authenticator app and enter that one.", ch)
		wantNotContains(t, w, "This code is not correct or has expired.")

		// The next 30-second step gives a new code, which signs in.
		*now = now.Add(30 * time.Second)
		code := oathtool(t, key, *now)
		w = e.verify(ch, code, "/settings/users")
		wantRedirect(t, w, http.StatusSeeOther, "/settings/users")
		c = sessionCookie(w).Value
		wantStatus(t, e.get("/settings/profile", c), http.StatusOK)
		// The challenge is done and the code spent.
		wantRedirect(t, e.verify(ch, code), http.StatusSeeOther, "/login?expired=1")
		ch2 := e.signInFirstStep("ada@acme.test", "//evil.example")
		wantStatus(t, e.verify(ch2, code), http.StatusUnprocessableEntity)

		// A backup code works once.
		// A next that leaves the site is dropped, even when posted.
		wantRedirect(t, e.verify(ch2, codes[0], "//evil.example"), http.StatusSeeOther, "/settings/profile")
		ch3 := e.signInFirstStep("ada@acme.test", "")
		wantStatus(t, e.verify(ch3, codes[0]), http.StatusUnprocessableEntity)
		wantContains(t, e.get("/settings/security", c), "9 backup codes left.")

		// An expired challenge goes back to the password page.
		*now = now.Add(11 * time.Minute)
		wantRedirect(t, e.verify(ch3, codes[1]), http.StatusSeeOther, "/login?expired=1")
		wantContains(t, e.get("/login?expired=1", ""), "This sign-in has expired. Please sign in again.")

		// Regenerating needs the password and a code; the old codes stop.
		w = e.post("/settings/security/backup-codes", c, url.Values{"password": {password}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter the code.")
		w = e.post("/settings/security/backup-codes", c, url.Values{"password": {password}, "code": {codes[1]}})
		wantStatus(t, w, http.StatusOK)
		fresh := backupCodes(t, w)
		if len(fresh) != 10 || fresh[0] == codes[0] {
			t.Fatalf("regenerated codes: %v", fresh)
		}
		wantContains(t, w, "New backup codes created.")
		ch4 := e.signInFirstStep("ada@acme.test", "")
		wantStatus(t, e.verify(ch4, codes[2]), http.StatusUnprocessableEntity)

		// Turning it off needs a code too.
		w = e.post("/settings/security/totp/disable", c, url.Values{"password": {password}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter the code.")
		w = e.post("/settings/security/totp/disable", c, url.Values{"password": {password}, "code": {fresh[0]}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security?done=two_factor_off")
		w = e.get("/settings/security?done=two_factor_off", c)
		wantContains(t, w, "The method was turned off.", `action="/settings/security/totp"`)
		wantNotContains(t, w, "backup codes left")
		e.login("ada@acme.test")
	})
}

func TestTwoFactorEmailCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		c := e.login("ada@acme.test")

		w := e.post("/settings/security/email", c, url.Values{"password": {password}})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "We sent a 6-digit code to ada@acme.test.", `action="/settings/security/email/confirm"`)
		mail := e.queue.find(t, "two_factor_code")
		code, _ := mail.Data["Code"].(string)
		if len(code) != 6 || mail.To != "ada@acme.test" {
			t.Fatalf("code mail %+v", mail)
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		w = e.post("/settings/security/email/confirm", c, url.Values{"code": {wrong}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This code is not correct or has expired.", `action="/settings/security/email/confirm"`)
		w = e.post("/settings/security/email/confirm", c, url.Values{"code": {code}})
		wantStatus(t, w, http.StatusOK)
		codes := backupCodes(t, w)
		if len(codes) != 10 {
			t.Fatalf("%d backup codes", len(codes))
		}
		wantContains(t, e.get("/settings/users", c), ">Email</span>")

		// Sign-in mails a code; resending waits a minute.
		e.post("/logout", c, nil)
		w = e.post("/login", "", url.Values{"email": {"ada@acme.test"}, "password": {password}})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "We sent a code to your email.", `action="/login/resend"`, "backup codes")
		ch := submatch(t, challengeRE, w)
		first, _ := e.queue.find(t, "two_factor_code").Data["Code"].(string)
		w = e.post("/login/resend", "", url.Values{"challenge": {ch}, "methods": {"email,backup_code"}})
		wantStatus(t, w, http.StatusTooManyRequests)
		wantContains(t, w, "You can ask for a new code in 60 seconds.")
		if w.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		*now = now.Add(61 * time.Second)
		w = e.post("/login/resend", "", url.Values{"challenge": {ch}, "methods": {"email,backup_code"}})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "We sent a new code to your email.", `action="/login/resend"`)
		second, _ := e.queue.find(t, "two_factor_code").Data["Code"].(string)
		if first != second {
			wantStatus(t, e.verify(ch, first), http.StatusUnprocessableEntity)
		}
		w = e.verify(ch, second)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile")
		c = sessionCookie(w).Value

		// Turning email codes off needs a code: here a backup code.
		w = e.post("/settings/security/email/disable", c, url.Values{"password": {password}, "code": {"abcde-fghjk"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This code is not correct or has expired.")
		w = e.post("/settings/security/email/disable", c, url.Values{"password": {password}, "code": {codes[3]}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security?done=two_factor_off")
		wantStatus(t, e.post("/settings/security/sms/disable", c, url.Values{"password": {password}}), http.StatusNotFound)
		e.login("ada@acme.test")
	})
}

func TestTwoFactorAdminReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobC := e.login("bob@acme.test")
		wantStatus(t, e.post("/settings/security/email", bobC, url.Values{"password": {password}}), http.StatusOK)
		code, _ := e.queue.find(t, "two_factor_code").Data["Code"].(string)
		wantStatus(t, e.post("/settings/security/email/confirm", bobC, url.Values{"code": {code}}), http.StatusOK)

		// The users list shows and filters by two-step verification.
		w := e.get("/settings/users", admin)
		wantContains(t, w, "Bob Builder", "Ada Admin", ">Email</span>", ">Off</span>", `href="/settings/users?two_factor=on"`)
		w = e.get("/settings/users?two_factor=on", admin)
		wantContains(t, w, "Bob Builder", "1 user")
		wantNotContains(t, w, "Ada Admin</span></a>")
		w = e.get("/settings/users?two_factor=off", admin)
		wantContains(t, w, "Ada Admin</span></a>", `<input type="hidden" name="two_factor" value="off">`)
		wantNotContains(t, w, "Bob Builder")

		// Bob cannot reset anyone; the admin cannot reset their own.
		wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d/two-factor/reset", ada.ID), bobC, nil), http.StatusForbidden)
		w = e.post(fmt.Sprintf("/settings/users/%d/two-factor/reset", ada.ID), admin, nil)
		wantStatus(t, w, http.StatusForbidden)
		wantContains(t, w, "You cannot reset your own two-step verification.")

		profile := fmt.Sprintf("/settings/users/%d", bob.ID)
		w = e.get(profile, admin)
		wantContains(t, w, `action="`+profile+`/two-factor/reset"`, "Reset two-step verification")
		w = e.post(profile+"/two-factor/reset", admin, nil)
		wantRedirect(t, w, http.StatusSeeOther, profile+"?done=two_factor_reset")
		w = e.get(profile+"?done=two_factor_reset", admin)
		wantContains(t, w, "Two-step verification was reset.")
		wantNotContains(t, w, "/two-factor/reset")
		if e.user(bob.ID).TwoFactorEnabled {
			t.Fatal("bob still has two-step verification")
		}
		e.queue.find(t, "two_factor_reset")
		// Bob was signed out everywhere and signs in with the password alone.
		wantStatus(t, e.get("/settings/profile", bobC), http.StatusFound)
		e.login("bob@acme.test")
	})
}

func TestUsersFilterKeepsPagination(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ada := e.setup("en")
	admin := e.login("ada@acme.test")
	for i := range 54 {
		u := &core.User{WorkspaceID: ada.WorkspaceID, Name: fmt.Sprintf("User %02d", i), Email: fmt.Sprintf("u%02d@acme.test", i),
			PasswordHash: "x", Role: core.RoleUser, State: core.StateActive, Language: "en", Timezone: "UTC"}
		if err := e.db.Writer().CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	w := e.get("/settings/users?two_factor=off", admin)
	wantContains(t, w, "Page 1 of 2", `href="/settings/users?page=2&two_factor=off"`)
	w = e.get("/settings/users?page=2&two_factor=off", admin)
	wantContains(t, w, "Page 2 of 2", `href="/settings/users?page=1&two_factor=off"`)
	// An unknown filter lists everyone.
	wantContains(t, e.get("/settings/users?two_factor=maybe", admin), "55 users")
	wantContains(t, e.get("/settings/users?two_factor=on", admin), "0 users")
}

func TestSessionRevoke(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		c1, c2, c3 := e.login("ada@acme.test"), e.login("ada@acme.test"), e.login("ada@acme.test")
		e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobC := e.login("bob@acme.test")

		w := e.get("/settings/security", c1)
		wantContains(t, w, "Sign out all other sessions", "This device")
		ids := revokeFormsRE.FindAllStringSubmatch(w.Body.String(), -1)
		if len(ids) < 3 { // the 3 other sessions of setup and sign-ins, not this one
			t.Fatalf("%d sign-out buttons", len(ids))
		}
		sessions, err := e.auth.Sessions(context.Background(), ada)
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := e.auth.Authenticate(context.Background(), c2, "")
		p1, _ := e.auth.Authenticate(context.Background(), c1, "")
		if strings.Contains(w.Body.String(), fmt.Sprintf("/sessions/%d/revoke", p1.Session.ID)) {
			t.Error("the current session has a sign-out button")
		}
		w = e.post(fmt.Sprintf("/settings/security/sessions/%d/revoke", p2.Session.ID), c1, nil)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security?done=session_revoked")
		wantContains(t, e.get("/settings/security?done=session_revoked", c1), "That session was signed out.")
		wantStatus(t, e.get("/settings/profile", c2), http.StatusFound)
		wantStatus(t, e.get("/settings/profile", c3), http.StatusOK)

		// Someone else's session is not found.
		pb, _ := e.auth.Authenticate(context.Background(), bobC, "")
		wantStatus(t, e.post(fmt.Sprintf("/settings/security/sessions/%d/revoke", pb.Session.ID), c1, nil), http.StatusNotFound)
		wantStatus(t, e.get("/settings/profile", bobC), http.StatusOK)

		w = e.post("/settings/security/sessions/revoke-others", c1, nil)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security?done=sessions_revoked")
		wantStatus(t, e.get("/settings/profile", c3), http.StatusFound)
		wantStatus(t, e.get("/settings/profile", c1), http.StatusOK)
		if left, _ := e.auth.Sessions(context.Background(), ada); len(left) != 1 || len(sessions) < 4 {
			t.Fatalf("sessions before %d, after %d", len(sessions), len(left))
		}
		wantNotContains(t, e.get("/settings/security", c1), "Sign out all other sessions")

		// Signing out this very session is signing out.
		w = e.post(fmt.Sprintf("/settings/security/sessions/%d/revoke", p1.Session.ID), c1, nil)
		wantRedirect(t, w, http.StatusSeeOther, "/login")
		wantStatus(t, e.get("/settings/profile", c1), http.StatusFound)
	})
}

// TestSecurityPagesTranslated renders the security pages in every language
// with two-step verification on: no message key shows through.
func TestSecurityPagesTranslated(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ada := e.setup("en")
	c := e.login("ada@acme.test")
	wantStatus(t, e.post("/settings/security/email", c, url.Values{"password": {password}}), http.StatusOK)
	code, _ := e.queue.find(t, "two_factor_code").Data["Code"].(string)
	wantStatus(t, e.post("/settings/security/email/confirm", c, url.Values{"code": {code}}), http.StatusOK)
	keyRE := regexp.MustCompile(`\b(web|errors|common)\.[a-z_]+\.[a-z_.]+\b`)
	for _, lang := range i18n.Supported {
		e.update(ada, func(u *core.User) { u.Language = lang })
		pages := map[string]*httptest.ResponseRecorder{
			"security": e.get("/settings/security", c),
			"users":    e.get("/settings/users?two_factor=on", c),
			"codes":    e.post("/settings/security/backup-codes", c, url.Values{"password": {password}, "code": {"nope"}}),
		}
		w := e.do(req{method: "POST", path: "/login", form: url.Values{"email": {"ada@acme.test"}, "password": {password}},
			header: map[string]string{"Accept-Language": lang}})
		pages["second step"] = w
		for name, w := range pages {
			if m := keyRE.FindString(w.Body.String()); m != "" {
				t.Errorf("%s %s shows the key %q", lang, name, m)
			}
			if !strings.Contains(w.Body.String(), `lang="`+lang+`"`) {
				t.Errorf("%s %s not in its language", lang, name)
			}
		}
	}
}
