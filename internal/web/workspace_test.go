package web

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// enableTOTP turns on the authenticator app for the session cookie, with a
// code from the real oathtool, and returns the key.
func (e *env) enableTOTP(cookie string, now time.Time) string {
	e.t.Helper()
	w := e.post("/settings/security/totp", cookie, url.Values{"password": {password}})
	wantStatus(e.t, w, http.StatusOK)
	key := submatch(e.t, totpSecretRE, w)
	w = e.post("/settings/security/totp/confirm", cookie, url.Values{"code": {oathtool(e.t, key, now)}})
	wantStatus(e.t, w, http.StatusOK)
	return key
}

// enableEmailCodes turns on email codes for the session cookie.
func (e *env) enableEmailCodes(cookie string) {
	e.t.Helper()
	wantStatus(e.t, e.post("/settings/security/email", cookie, url.Values{"password": {password}}), http.StatusOK)
	code, _ := e.queue.find(e.t, "two_factor_code").Data["Code"].(string)
	wantStatus(e.t, e.post("/settings/security/email/confirm", cookie, url.Values{"code": {code}}), http.StatusOK)
}

func TestMandatoryTwoFactor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bob := e.login("bob@acme.test")

		// Admins only, and it is in their navigation.
		w := e.get("/settings/workspace-security", admin)
		wantStatus(t, w, http.StatusOK)
		checkNoInline(t, "workspace security", w.Body.String())
		wantContains(t, w, `href="/settings/workspace-security"`, `href="/settings/audit"`,
			"Require two-step verification for everyone", "Turn on your own two-step verification first.")
		wantNotContains(t, w, `name="require" value="on" checked`)
		wantStatus(t, e.get("/settings/workspace-security", bob), http.StatusForbidden)
		wantStatus(t, e.post("/settings/workspace-security/require", bob, url.Values{"require": {"on"}}), http.StatusForbidden)
		wantNotContains(t, e.get("/settings/profile", bob), `href="/settings/workspace-security"`, `href="/settings/audit"`)

		// An admin without two-step verification cannot require it.
		w = e.post("/settings/workspace-security/require", admin, url.Values{"require": {"on"}})
		wantStatus(t, w, http.StatusConflict)
		if got := alertText(w.Body.String()); got != "Turn on your own two-step verification before making it mandatory." {
			t.Errorf("message %q", got)
		}

		key := e.enableTOTP(admin, *now)
		w = e.post("/settings/workspace-security/require", admin, url.Values{"require": {"on"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/workspace-security?done=require_on")
		w = e.get("/settings/workspace-security?done=require_on", admin)
		wantContains(t, w, "Two-step verification is now required for everyone.", `name="require" value="on" checked`)
		wantNotContains(t, w, "Turn on your own two-step verification first.")
		// The compliant admin goes on as before.
		wantStatus(t, e.get("/settings/users", admin), http.StatusOK)

		// Bob's open session and his next sign-in lead to the setup page.
		wantRedirect(t, e.get("/settings/profile", bob), http.StatusFound, twoFactorRequiredURL)
		w = e.post("/login", "", url.Values{"email": {"bob@acme.test"}, "password": {password}, "next": {"/settings/users"}})
		wantRedirect(t, w, http.StatusSeeOther, twoFactorRequiredURL)
		bob = sessionCookie(w).Value
		w = e.get(twoFactorRequiredURL, bob)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Your workspace requires two-step verification. Turn it on to continue.", `action="/settings/security/email"`)
		for _, path := range []string{"/settings/profile", "/settings/users", "/settings/notifications", "/settings", "/settings/audit"} {
			wantRedirect(t, e.get(path, bob), http.StatusFound, twoFactorRequiredURL)
		}
		wantRedirect(t, e.post("/settings/profile", bob, url.Values{"name": {"Bobby"}}), http.StatusSeeOther, twoFactorRequiredURL)
		// Only his own photo loads meanwhile (the layout's avatar).
		wantRedirect(t, e.get("/photos/"+strconv.FormatInt(e.userID("ada@acme.test"), 10)+"/1/128", bob), http.StatusFound, twoFactorRequiredURL)
		if e.user(e.userID("bob@acme.test")).Name != "Bob Builder" {
			t.Error("a page was used before two-step verification was on")
		}
		wantRedirect(t, e.get("/", bob), http.StatusFound, "/settings/profile")

		// Turning it on opens everything again.
		e.enableEmailCodes(bob)
		w = e.get("/settings/security", bob)
		wantNotContains(t, w, "Your workspace requires two-step verification.")
		wantStatus(t, e.get("/settings/profile", bob), http.StatusOK)
		wantStatus(t, e.get("/settings/notifications", bob), http.StatusOK)

		// The compliant admin's sign-in takes the second step and then
		// goes where it was going, not to the setup page.
		ch := e.signInFirstStep("ada@acme.test", "/settings/users")
		*now = now.Add(30 * time.Second) // the code that turned the app on is spent
		w = e.verify(ch, oathtool(t, key, *now), "/settings/users")
		wantRedirect(t, w, http.StatusSeeOther, "/settings/users")
		wantStatus(t, e.get("/settings/users", sessionCookie(w).Value), http.StatusOK)

		w = e.post("/settings/workspace-security/require", admin, url.Values{"require": {"off"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/workspace-security?done=require_off")
		wantContains(t, e.get("/settings/audit?type=workspace.", admin), "Mandatory two-step verification changed")
	})
}

// userID looks up a user by email.
func (e *env) userID(email string) int64 {
	e.t.Helper()
	u, err := e.db.Reader().UserByEmail(e.t.Context(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

func TestIPAllowlist(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		const inside, outside = "198.51.100.7:1234", "192.0.2.1:1234"
		admin := e.login("ada@acme.test")
		e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bob := e.login("bob@acme.test")
		e.enableEmailCodes(bob)

		save := func(text, remote string) *httptest.ResponseRecorder {
			t.Helper()
			return e.do(req{method: "POST", path: "/settings/workspace-security/allowlist", cookie: admin,
				form: url.Values{"allowlist": {text}}, remote: remote})
		}
		w := e.do(req{method: "GET", path: "/settings/workspace-security", cookie: admin, remote: inside})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Your current IP address: 198.51.100.7", "--trusted-proxies", "X-Forwarded-For")

		// A list that shuts out the admin saving it is refused.
		w = save("203.0.113.0/24", inside)
		wantStatus(t, w, http.StatusConflict)
		if got := alertText(w.Body.String()); got != "Your current IP address is not in this list: saving it would lock you out." {
			t.Errorf("message %q", got)
		}
		wantContains(t, w, ">203.0.113.0/24</textarea>")

		// A bad line is named.
		w = save("198.51.100.7\nnot-an-ip", inside)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Line 2: “not-an-ip” is not an IP address or CIDR range.", `aria-invalid="true"`, "not-an-ip</textarea>")

		w = save("198.51.100.0/24 # office\n2001:db8::1/32", inside)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/workspace-security?done=allowlist_saved")
		w = e.do(req{method: "GET", path: "/settings/workspace-security?done=allowlist_saved", cookie: admin, remote: inside})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "IP allowlist saved.", ">198.51.100.0/24\n2001:db8::/32</textarea>")

		// From outside, every page and the sign-in are refused.
		for _, path := range []string{"/settings/profile", "/settings/security", "/settings/workspace-security"} {
			w = e.do(req{method: "GET", path: path, cookie: admin, remote: outside})
			wantStatus(t, w, http.StatusForbidden)
			if got := alertText(w.Body.String()); got != "Access from your IP address is not allowed in this workspace." {
				t.Errorf("%s: message %q", path, got)
			}
		}
		wantStatus(t, e.do(req{method: "POST", path: "/settings/workspace-security/allowlist", cookie: admin,
			form: url.Values{"allowlist": {""}}, remote: outside}), http.StatusForbidden)
		login := func(email, remote string) *httptest.ResponseRecorder {
			t.Helper()
			return e.do(req{method: "POST", path: "/login", form: url.Values{"email": {email}, "password": {password}}, remote: remote})
		}
		sessions := func(email string) int {
			t.Helper()
			u := e.user(e.userID(email))
			list, err := e.auth.Sessions(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		before := sessions("ada@acme.test")
		w = login("ada@acme.test", outside)
		wantStatus(t, w, http.StatusForbidden)
		wantContains(t, w, "Access from your IP address is not allowed in this workspace.")
		if sessionCookie(w) != nil {
			t.Error("a refused sign-in set a cookie")
		}
		if n := sessions("ada@acme.test"); n != before {
			t.Errorf("a refused sign-in left %d sessions, want %d", n, before)
		}
		w = login("ada@acme.test", inside)
		wantStatus(t, w, http.StatusSeeOther)
		wantStatus(t, e.do(req{method: "GET", path: "/settings/profile", cookie: sessionCookie(w).Value, remote: inside}), http.StatusOK)

		// With two-step verification: refused before the code page, and at
		// the code page when the address changed in between.
		mails, bobBefore := len(e.queue.mails), sessions("bob@acme.test")
		w = login("bob@acme.test", outside)
		wantStatus(t, w, http.StatusForbidden)
		if sessionCookie(w) != nil || len(e.queue.mails) != mails {
			t.Error("a refused sign-in set a cookie or mailed a code")
		}
		if n := sessions("bob@acme.test"); n != bobBefore {
			t.Errorf("a refused sign-in left bob %d sessions, want %d", n, bobBefore)
		}
		w = login("bob@acme.test", inside)
		wantStatus(t, w, http.StatusOK)
		ch := submatch(t, challengeRE, w)
		code, _ := e.queue.find(t, "two_factor_code").Data["Code"].(string)
		w = e.do(req{method: "POST", path: "/login/verify", form: url.Values{"challenge": {ch}, "code": {code}}, remote: outside})
		wantStatus(t, w, http.StatusForbidden)
		wantContains(t, w, "Access from your IP address is not allowed in this workspace.")
		if sessionCookie(w) != nil {
			t.Error("a refused second step set a cookie")
		}
		if n := sessions("bob@acme.test"); n != bobBefore {
			t.Errorf("a refused second step left bob %d sessions, want %d", n, bobBefore)
		}

		// An invitation accepted from outside opens no session and creates
		// no account; the link still works from inside.
		wantRedirect(t, e.do(req{method: "POST", path: "/settings/users/invite", cookie: sessionCookie(login("ada@acme.test", inside)).Value,
			form: url.Values{"email": {"carol@acme.test"}, "role": {"user"}}, remote: inside}), http.StatusSeeOther, "/settings/users?done=invited")
		link, _ := e.queue.last(t).Data["Link"].(string)
		path := "/invite/" + linkRE.FindStringSubmatch(link)[1]
		accept := url.Values{"name": {"Carol"}, "password": {password}}
		w = e.do(req{method: "POST", path: path, form: accept, remote: outside})
		wantStatus(t, w, http.StatusForbidden)
		wantContains(t, w, "Access from your IP address is not allowed in this workspace.")
		if sessionCookie(w) != nil {
			t.Error("an invitation accepted from outside set a cookie")
		}
		if _, err := e.db.Reader().UserByEmail(t.Context(), "carol@acme.test"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("an invitation accepted from outside created the account: %v", err)
		}
		w = e.do(req{method: "POST", path: path, form: accept, remote: inside})
		wantStatus(t, w, http.StatusSeeOther)
		if sessionCookie(w) == nil {
			t.Error("an invitation accepted from inside set no cookie")
		}

		// An empty list allows everyone again.
		wantRedirect(t, save("", inside), http.StatusSeeOther, "/settings/workspace-security?done=allowlist_saved")
		wantStatus(t, e.get("/settings/profile", admin), http.StatusOK)
		e.login("ada@acme.test")
	})
}

var auditRowRE = regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`)

// auditRows returns the table body of the audit page, unescaped.
func auditRows(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	m := auditRowRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		return ""
	}
	return m[1]
}

func TestAuditPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobID := e.userID("bob@acme.test")
		wantStatus(t, e.post("/login", "", url.Values{"email": {"bob@acme.test"}, "password": {"wrong password"}}), http.StatusUnauthorized)
		bob := e.login("bob@acme.test")
		wantRedirect(t, e.post("/settings/workspace-security/allowlist", admin, url.Values{"allowlist": {"192.0.2.0/24"}}),
			http.StatusSeeOther, "/settings/workspace-security?done=allowlist_saved")

		w := e.get("/settings/audit", admin)
		wantStatus(t, w, http.StatusOK)
		checkNoInline(t, "audit", w.Body.String())
		rows := auditRows(t, w)
		for _, s := range []string{"Sign-in failed", "Signed in", "IP allowlist changed", "Bob Builder", "Ada Admin", "192.0.2.0/24", "192.0.2.1", `data-label="By">—</td>`} {
			if !strings.Contains(rows, s) {
				t.Errorf("audit rows lack %q: %s", s, rows)
			}
		}
		wantContains(t, w, `href="/settings/audit.csv"`, "Export CSV", `<option value="two_factor.">Two-step verification</option>`,
			fmt.Sprintf(`<option value="%d">Bob Builder (bob@acme.test)</option>`, bobID))

		w = e.get("/settings/audit?type=sign_in.", admin)
		rows = auditRows(t, w)
		if !strings.Contains(rows, "Signed in") || !strings.Contains(rows, "Sign-in failed") || strings.Contains(rows, "IP allowlist changed") {
			t.Errorf("sign-in filter: %s", rows)
		}
		wantContains(t, w, `<option value="sign_in." selected>`, `href="/settings/audit.csv?type=sign_in."`)
		w = e.get("/settings/audit?type=workspace.", admin)
		rows = auditRows(t, w)
		if strings.Contains(rows, "Signed in") || !strings.Contains(rows, "IP allowlist changed") {
			t.Errorf("workspace filter: %s", rows)
		}
		w = e.get(fmt.Sprintf("/settings/audit?user=%d", bobID), admin)
		rows = auditRows(t, w)
		if !strings.Contains(rows, "Sign-in failed") || strings.Contains(rows, "IP allowlist changed") || strings.Contains(rows, "Ada Admin") {
			t.Errorf("user filter: %s", rows)
		}
		wantContains(t, w, fmt.Sprintf(`<option value="%d" selected>`, bobID), fmt.Sprintf(`href="/settings/audit.csv?user=%d"`, bobID))
		wantContains(t, e.get("/settings/audit?type=note.", admin), "No events match.")

		w = e.get(fmt.Sprintf("/settings/audit.csv?type=sign_in.&user=%d", bobID), admin)
		wantStatus(t, w, http.StatusOK)
		if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="roster-audit.csv"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
		if lines[0] != `"id","time","action","actor_id","actor_name","target_id","detail","ip"` || len(lines) != 3 {
			t.Fatalf("csv: %q", w.Body.String())
		}
		if !strings.Contains(w.Body.String(), `,"sign_in.failed","0","",`) || !strings.Contains(w.Body.String(), `,"sign_in.succeeded",`) ||
			strings.Contains(w.Body.String(), "workspace.") {
			t.Errorf("csv rows: %s", w.Body.String())
		}

		// Not for other users.
		wantStatus(t, e.get("/settings/audit", bob), http.StatusForbidden)
		wantStatus(t, e.get("/settings/audit.csv", bob), http.StatusForbidden)
	})
}

func TestSendManageCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		c := e.login("ada@acme.test")
		w := e.get("/settings/security", c)
		wantNotContains(t, w, `action="/settings/security/send-code"`)
		// Without email codes there is nothing to send.
		wantStatus(t, e.post("/settings/security/send-code", c, nil), http.StatusConflict)

		e.enableEmailCodes(c)
		w = e.get("/settings/security", c)
		wantContains(t, w, `action="/settings/security/send-code"`, "Email me a code", "a code we email you")
		checkNoInline(t, "security", w.Body.String())

		w = e.post("/settings/security/send-code", c, nil)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security?done=code_sent#backup")
		wantContains(t, e.get("/settings/security?done=code_sent", c), "We sent a code to your email. It works for 10 minutes.")
		mail := e.queue.find(t, "two_factor_code")
		code, _ := mail.Data["Code"].(string)
		if mail.To != "ada@acme.test" || len(code) != 6 {
			t.Fatalf("mail %+v", mail)
		}
		w = e.post("/settings/security/send-code", c, nil)
		wantStatus(t, w, http.StatusTooManyRequests)
		wantContains(t, w, "You can ask for a new code in 60 seconds.")
		if w.Header().Get("Retry-After") != "60" {
			t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
		}

		// The mailed code regenerates the backup codes, then turns email
		// codes off.
		w = e.post("/settings/security/backup-codes", c, url.Values{"password": {password}, "code": {code}})
		wantStatus(t, w, http.StatusOK)
		if n := len(backupCodes(t, w)); n != 10 {
			t.Fatalf("%d backup codes", n)
		}
		*now = now.Add(61 * time.Second)
		wantRedirect(t, e.post("/settings/security/send-code", c, nil), http.StatusSeeOther, "/settings/security?done=code_sent#backup")
		code, _ = e.queue.find(t, "two_factor_code").Data["Code"].(string)
		w = e.post("/settings/security/email/disable", c, url.Values{"password": {password}, "code": {code}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security?done=two_factor_off")
	})
}

// TestWorkspacePagesTranslated renders the new admin pages in every
// language: no message key shows through.
func TestWorkspacePagesTranslated(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ada := e.setup("en")
	c := e.login("ada@acme.test")
	e.enableEmailCodes(c)
	wantStatus(t, e.post("/settings/workspace-security/require", c, url.Values{"require": {"on"}}), http.StatusSeeOther)
	e.post("/settings/security/sessions/revoke-others", c, nil)
	keyRE := regexp.MustCompile(`\b(web|errors|common)\.[a-z_]+\.[a-z_.]+\b`)
	for _, lang := range i18n.Supported {
		e.update(ada, func(u *core.User) { u.Language = lang })
		pages := map[string]*httptest.ResponseRecorder{
			"workspace security": e.get("/settings/workspace-security", c),
			"bad allowlist":      e.post("/settings/workspace-security/allowlist", c, url.Values{"allowlist": {"x"}}),
			"lockout":            e.post("/settings/workspace-security/allowlist", c, url.Values{"allowlist": {"203.0.113.1"}}),
			"audit":              e.get("/settings/audit", c),
			"security":           e.get("/settings/security", c),
		}
		for name, w := range pages {
			if m := keyRE.FindString(w.Body.String()); m != "" {
				t.Errorf("%s %s shows the key %q", lang, name, m)
			}
			if !strings.Contains(w.Body.String(), `lang="`+lang+`"`) {
				t.Errorf("%s %s not in its language", lang, name)
			}
		}
		if !strings.Contains(html.UnescapeString(pages["audit"].Body.String()), `data-label="`+e.h.loc(lang).T("web.audit.action")+`">`+e.h.loc(lang).T("web.audit.require_two_factor")+"</td>") {
			t.Errorf("%s audit lacks the translated action", lang)
		}
	}
}

// TestSecondMethodNeedsACode: with email codes on, adding the authenticator
// app asks for a code as well as the password.
func TestSecondMethodNeedsACode(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setup("en")
	c := e.login("ada@acme.test")
	e.enableEmailCodes(c)
	wantContains(t, e.get("/settings/security", c), `id="totp-start-code"`)
	w := e.post("/settings/security/totp", c, url.Values{"password": {password}})
	wantStatus(t, w, http.StatusUnprocessableEntity)
	wantContains(t, w, "Enter the code.")
	wantNotContains(t, w, `id="totp-secret"`)
}

// TestActivityShowsWhoDidIt: a failed sign-in has no actor and shows "—";
// only link actions (password reset, email confirmation) show "Someone with
// the link". The profile's Activity and the audit page share one table.
func TestActivityShowsWhoDidIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		e.post("/login", "", url.Values{"email": {"bob@acme.test"}, "password": {"not-his-password"}})
		for _, path := range []string{"/settings/users/" + strconv.FormatInt(bob.ID, 10), "/settings/audit"} {
			w := e.get(path, admin)
			wantStatus(t, w, http.StatusOK)
			wantContains(t, w, "Sign-in failed")
			wantNotContains(t, w, "Someone with the link")
		}
	})
}
