package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
	"roster/internal/testenv"
)

// clock is a database clock the test moves; the server reads it from
// other goroutines.
type clock struct{ ns atomic.Int64 }

func newClock(db *store.DB) *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	db.SetClock(c.now)
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// oathtool computes a TOTP code the way a real authenticator app does.
func oathtool(t testing.TB, key string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		testenv.SkipOrFail(t, "oathtool is not installed (apt-get install -y oathtool); authenticator tests did not run")
	}
	out, err := exec.Command(path, "--totp", "-b", key, "-N", fmt.Sprintf("@%d", at.Unix())).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// otherCode is a 6-digit code different from code.
func otherCode(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+500000)%1000000)
}

// webSession opens a browser session for u, as the web sign-in does.
func (e *env) webSession(u *core.User) string {
	e.t.Helper()
	ctx := context.Background()
	var tok string
	err := e.db.InTx(ctx, func(q *store.Q) error {
		var err error
		tok, _, err = e.auth.StartSession(ctx, q, u.ID, core.SessionWeb, "127.0.0.1", "Firefox on Linux")
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// problemType returns the type member of a problem document.
func problemType(r *response) string {
	var doc struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(r.body, &doc)
	return doc.Type
}

// codes reads the backup codes of an answer.
func codes(t testing.TB, r *response) []string {
	t.Helper()
	var b BackupCodes
	if err := json.Unmarshal(r.body, &b); err != nil || b.BackupCodes == nil {
		t.Fatalf("backup codes %s (%v)", r.body, err)
	}
	return b.BackupCodes
}

// enableTOTP turns the authenticator app on for the holder of the web
// session web and returns the key and backup codes.
func (e *env) enableTOTP(c *clock, web, password string) (string, []string) {
	e.t.Helper()
	r := e.do("POST", "/me/two-factor/totp", `{"password":"`+password+`"}`, cookie(web)).status(http.StatusOK)
	var setup TOTPSetup
	if err := json.Unmarshal(r.body, &setup); err != nil || setup.Secret == "" {
		e.t.Fatalf("setup %s (%v)", r.body, err)
	}
	got := codes(e.t, e.do("POST", "/me/two-factor/totp/confirm", `{"code":"`+oathtool(e.t, setup.Secret, c.now())+`"}`, cookie(web)).status(http.StatusOK))
	return setup.Secret, got
}

// challenge signs in with a password and expects a second step.
func (e *env) challenge(email string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, testPassword)).status(http.StatusOK).json()
	if r["status"] != "second_factor_required" || r["two_factor_required"] != true || r["token"] != nil || r["user"] != nil {
		e.t.Fatalf("sign-in of a 2FA user: %v", r)
	}
	if id, _ := r["challenge_id"].(string); id == "" {
		e.t.Fatalf("no challenge_id: %v", r)
	}
	return r
}

func verifyBody(challenge map[string]any, code string) string {
	return fmt.Sprintf(`{"challenge_id":%q,"code":%q}`, challenge["challenge_id"], code)
}

func TestTwoFactorAuthenticatorApp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, auth: auth.Config{AccountFailures: 100}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Language = "es" })
		web := e.webSession(bob)

		// Plain sign-ins say no second step is needed.
		r := e.do("POST", "/auth/login", `{"email":"bob@example.com","password":"`+testPassword+`"}`).status(http.StatusOK).json()
		if r["two_factor_required"] != false || r["status"] != "signed_in" || r["challenge_id"] != nil {
			t.Fatalf("plain sign-in %v", r)
		}
		apiTok := r["token"].(string)

		// Anyone reads the status; bearer tokens cannot change it.
		st := e.do("GET", "/me/two-factor", "", bearer(apiTok)).status(http.StatusOK).json()
		if st["enabled"] != false || st["backup_codes_left"] != float64(0) {
			t.Errorf("status %v", st)
		}
		for _, tok := range []string{apiTok, web} { // an API session, and even a web session's token as bearer
			r := e.do("POST", "/me/two-factor/totp", `{"password":"`+testPassword+`"}`, bearer(tok))
			p := r.problem(http.StatusForbidden)
			if problemType(r) != ProblemWebOnly || p.Detail != e.msg("es", "errors.two_factor_web_only", nil) {
				t.Errorf("bearer enable: %s", r.body)
			}
		}
		e.do("POST", "/me/two-factor/backup-codes", `{}`, bearer(apiTok)).problem(http.StatusForbidden)
		e.do("DELETE", "/me/two-factor/totp", `{"password":"x","code":"1"}`, bearer(apiTok)).problem(http.StatusForbidden)
		// An API session's token in the cookie is no browser session either.
		r2 := e.do("POST", "/me/two-factor/totp", `{"password":"`+testPassword+`"}`, cookie(apiTok))
		if r2.problem(http.StatusForbidden); problemType(r2) != ProblemWebOnly {
			t.Errorf("API session as cookie: %s", r2.body)
		}

		// Setup from the browser: wrong password, then the key.
		p := e.do("POST", "/me/two-factor/totp", `{"password":"wrong-password-1"}`, cookie(web)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.password"] != e.msg("es", "errors.field.password_wrong", nil) {
			t.Errorf("wrong password: %+v", p)
		}
		r = e.do("POST", "/me/two-factor/totp", `{"password":"`+testPassword+`"}`, cookie(web)).status(http.StatusOK).json()
		secret, uri, qr := r["secret"].(string), r["otpauth_uri"].(string), r["qr_code"].(string)
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != secret || !strings.HasPrefix(u.Query().Get("issuer"), "Roster") {
			t.Errorf("otpauth uri %q", uri)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, "data:image/png;base64,"))
		if !strings.HasPrefix(qr, "data:image/png;base64,") || err != nil {
			t.Fatalf("qr code %.60q", qr)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Errorf("qr png: %v", err)
		}

		// Confirm: a wrong code, then the real authenticator's code.
		code := oathtool(t, secret, c.now())
		p = e.do("POST", "/me/two-factor/totp/confirm", `{"code":"`+otherCode(code)+`"}`, cookie(web)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.code"] != e.msg("es", "errors.field.code_wrong", nil) {
			t.Errorf("wrong code: %+v", p)
		}
		// The set-up still waits, and the status says until when.
		pending := e.do("GET", "/me/two-factor", "", cookie(web)).status(http.StatusOK).json()["pending"].(map[string]any)
		if exp, err := time.Parse(time.RFC3339, fmt.Sprint(pending["totp"])); err != nil || !exp.After(c.now()) || pending["email"] != nil {
			t.Errorf("pending %v", pending)
		}
		backup := codes(t, e.do("POST", "/me/two-factor/totp/confirm", `{"code":"`+code+`"}`, cookie(web)).status(http.StatusOK))
		if len(backup) != 10 {
			t.Fatalf("backup codes %v", backup)
		}
		if m := e.mail.last(t, "two_factor_enabled"); m.to != "bob@example.com" || m.data["Method"] != "totp" {
			t.Errorf("enabled mail %+v", m)
		}
		e.do("GET", "/me", "", bearer(apiTok)).problem(http.StatusUnauthorized) // other sessions ended
		st = e.do("GET", "/me/two-factor", "", cookie(web)).status(http.StatusOK).json()
		if st["enabled"] != true || st["methods"].(map[string]any)["totp"] != true || st["methods"].(map[string]any)["email"] != false || st["backup_codes_left"] != float64(10) {
			t.Errorf("status after enabling %v", st)
		}
		if me := e.do("GET", "/me", "", cookie(web)).json(); me["two_factor"] != "app" || me["two_factor_enabled"] != true {
			t.Errorf("/me %v", me)
		}

		// Sign-in asks for a code; the code that enabled the app is spent.
		ch := e.challenge("bob@example.com")
		if fmt.Sprint(ch["methods"]) != "[totp backup_code]" || ch["email_code_sent"] != nil {
			t.Errorf("challenge %v", ch)
		}
		if exp, err := time.Parse(time.RFC3339, ch["expires_at"].(string)); err != nil || exp.Sub(c.now()) > 10*time.Minute || exp.Before(c.now()) {
			t.Errorf("expires_at %v", ch["expires_at"])
		}
		p = e.do("POST", "/auth/login/verify", verifyBody(ch, code)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.code"] != e.msg("en", "errors.field.code_used", nil) {
			t.Errorf("replayed code: %+v, want the code_used message", p)
		}
		c.add(30 * time.Second)
		code = oathtool(t, secret, c.now())
		r = e.do("POST", "/auth/login/verify", verifyBody(ch, code)).status(http.StatusOK).json()
		tok, _ := r["token"].(string)
		if r["status"] != "signed_in" || r["two_factor_required"] != false || tok == "" || r["user"].(map[string]any)["two_factor"] != "app" {
			t.Fatalf("verified %v", r)
		}
		e.do("GET", "/me", "", bearer(tok)).status(http.StatusOK)
		// The challenge is finished, and the code does not work twice.
		e.do("POST", "/auth/login/verify", verifyBody(ch, code)).problem(http.StatusNotFound)
		ch = e.challenge("bob@example.com")
		e.do("POST", "/auth/login/verify", verifyBody(ch, code)).problem(http.StatusUnprocessableEntity)

		// A backup code works once.
		r = e.do("POST", "/auth/login/verify", verifyBody(ch, strings.ToUpper(backup[0]))).status(http.StatusOK).json()
		if r["token"] == nil {
			t.Errorf("backup code sign-in %v", r)
		}
		ch = e.challenge("bob@example.com")
		e.do("POST", "/auth/login/verify", verifyBody(ch, backup[0])).problem(http.StatusUnprocessableEntity)
		if st := e.do("GET", "/me/two-factor", "", cookie(web)).json(); st["backup_codes_left"] != float64(9) {
			t.Errorf("after a backup code: %v", st)
		}

		// Expired and unknown challenges.
		c.add(11 * time.Minute)
		p = e.do("POST", "/auth/login/verify", verifyBody(ch, oathtool(t, secret, c.now()))).problem(http.StatusNotFound)
		if p.Detail != e.msg("en", "errors.challenge_invalid", nil) {
			t.Errorf("expired challenge %+v", p)
		}
		e.do("POST", "/auth/login/verify", `{"challenge_id":"nope","code":"123456"}`).problem(http.StatusNotFound)
		e.do("POST", "/auth/login/resend", `{"challenge_id":"nope"}`).problem(http.StatusNotFound)

		// Regenerate the backup codes with the password and a code.
		web = e.webSession(bob)
		fresh := codes(t, e.do("POST", "/me/two-factor/backup-codes", `{"password":"`+testPassword+`","code":"`+backup[1]+`"}`, cookie(web)).status(http.StatusOK))
		if len(fresh) != 10 || slices.Contains(fresh, backup[2]) {
			t.Errorf("regenerated %v", fresh)
		}
		if st := e.do("GET", "/me/two-factor", "", cookie(web)).json(); st["backup_codes_left"] != float64(10) {
			t.Errorf("after regenerating: %v", st)
		}

		// Disabling needs the password and a code.
		p = e.do("DELETE", "/me/two-factor/totp", `{"password":"`+testPassword+`"}`, cookie(web)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.code"] != e.msg("es", "errors.field.code_required", nil) {
			t.Errorf("disable without code: %+v", p)
		}
		p = e.do("DELETE", "/me/two-factor/totp", `{"password":"wrong-password-1","code":"`+fresh[0]+`"}`, cookie(web)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.password"] == "" {
			t.Errorf("disable with a wrong password: %+v", p)
		}
		e.do("DELETE", "/me/two-factor/email", `{"password":"`+testPassword+`","code":"`+fresh[0]+`"}`, cookie(web)).problem(http.StatusConflict)
		e.do("DELETE", "/me/two-factor/sms", `{"password":"`+testPassword+`","code":"`+fresh[0]+`"}`, cookie(web)).problem(http.StatusUnprocessableEntity)
		c.add(30 * time.Second)
		e.do("DELETE", "/me/two-factor/totp", `{"password":"`+testPassword+`","code":"`+oathtool(t, secret, c.now())+`"}`, cookie(web)).
			status(http.StatusNoContent)
		if m := e.mail.last(t, "two_factor_disabled"); m.data["AllOff"] != true {
			t.Errorf("disabled mail %+v", m)
		}
		st = e.do("GET", "/me/two-factor", "", cookie(web)).json()
		if st["enabled"] != false || st["backup_codes_left"] != float64(0) {
			t.Errorf("after disabling %v", st)
		}
		if me := e.do("GET", "/me", "", cookie(web)).json(); me["two_factor"] != "off" || me["two_factor_enabled"] != false {
			t.Errorf("/me after disabling %v", me)
		}
		e.login("bob@example.com")
	})
}

func TestTwoFactorEmailCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, auth: auth.Config{AccountFailures: 100}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		web := e.webSession(bob)

		e.do("POST", "/me/two-factor/email", `{"password":"`+testPassword+`"}`, cookie(web)).status(http.StatusAccepted)
		m := e.mail.last(t, "two_factor_code")
		code, _ := m.data["Code"].(string)
		if m.to != "bob@example.com" || len(code) != 6 {
			t.Fatalf("code mail %+v", m)
		}
		e.do("POST", "/me/two-factor/email/confirm", `{"code":"`+otherCode(code)+`"}`, cookie(web)).problem(http.StatusUnprocessableEntity)
		backup := codes(t, e.do("POST", "/me/two-factor/email/confirm", `{"code":"`+code+`"}`, cookie(web)).status(http.StatusOK))
		if len(backup) != 10 {
			t.Fatalf("backup codes %v", backup)
		}

		// The sign-in emails a code; five wrong tries use it up.
		ch := e.challenge("bob@example.com")
		if fmt.Sprint(ch["methods"]) != "[email backup_code]" || ch["email_code_sent"] != true {
			t.Errorf("challenge %v", ch)
		}
		code = e.mail.last(t, "two_factor_code").data["Code"].(string)
		for range 5 {
			e.do("POST", "/auth/login/verify", verifyBody(ch, otherCode(code))).problem(http.StatusUnprocessableEntity)
		}
		p := e.do("POST", "/auth/login/verify", verifyBody(ch, code), lang("tr")).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.code"] != e.msg("tr", "errors.code_attempts_exhausted", nil) {
			t.Errorf("right code after 5 wrong ones: %+v", p)
		}

		// A new code only after a minute.
		r := e.do("POST", "/auth/login/resend", `{"challenge_id":"`+ch["challenge_id"].(string)+`"}`)
		r.problem(http.StatusTooManyRequests)
		if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
		c.add(61 * time.Second)
		e.do("POST", "/auth/login/resend", `{"challenge_id":"`+ch["challenge_id"].(string)+`"}`).status(http.StatusAccepted)
		code2 := e.mail.last(t, "two_factor_code").data["Code"].(string)
		e.do("POST", "/auth/login/verify", verifyBody(ch, code2)).status(http.StatusOK)

		// Both methods: the users field says so; the second method brings no new codes.
		web2 := e.webSession(bob)
		p = e.do("POST", "/me/two-factor/totp", `{"password":"`+testPassword+`"}`, cookie(web2)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.code"] != e.msg("en", "errors.field.code_required", nil) {
			t.Errorf("second method without a code: %+v", p)
		}
		r = e.do("POST", "/me/two-factor/totp", `{"password":"`+testPassword+`","code":"`+backup[0]+`"}`, cookie(web2)).status(http.StatusOK)
		var setup TOTPSetup
		if err := json.Unmarshal(r.body, &setup); err != nil || setup.Secret == "" {
			t.Fatalf("setup %s (%v)", r.body, err)
		}
		secret := setup.Secret
		more := codes(t, e.do("POST", "/me/two-factor/totp/confirm", `{"code":"`+oathtool(t, secret, c.now())+`"}`, cookie(web2)).status(http.StatusOK))
		if len(more) != 0 || secret == "" {
			t.Errorf("codes for a second method: %v", more)
		}
		if u := e.do("GET", fmt.Sprintf("/users/%d", bob.ID), "", bearer(e.adminSession)).json(); u["two_factor"] != "both" {
			t.Errorf("user %v", u)
		}
	})
}

func TestTwoFactorThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, auth: auth.Config{AccountFailures: 3}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		secret, _ := e.enableTOTP(c, e.webSession(bob), testPassword)
		ch := e.challenge("bob@example.com")
		c.add(30 * time.Second)
		code := oathtool(t, secret, c.now())
		for range 3 {
			e.do("POST", "/auth/login/verify", verifyBody(ch, otherCode(code))).problem(http.StatusUnprocessableEntity)
		}
		r := e.do("POST", "/auth/login/verify", verifyBody(ch, code))
		r.problem(http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	})
}

func TestTwoFactorAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, auth: auth.Config{AccountFailures: 100}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		carol := e.user("Acme", "Carol", "carol@example.com", core.RoleUser, core.RightProfileAccess)
		e.user("Acme", "Dan", "dan@example.com", core.RoleUser)
		olga := e.user("Other", "Olga", "olga@example.com", core.RoleAdmin)
		bobWeb := e.webSession(bob)
		e.enableTOTP(c, bobWeb, testPassword)
		e.enableTOTP(c, e.adminSession, testPassword)
		adminWeb := e.webSession(e.admin) // enabling ended the other sessions, not this new one

		// The list shows each user's methods and filters by them.
		names := func(r map[string]any) map[string]string {
			out := map[string]string{}
			for _, it := range r["items"].([]any) {
				u := it.(map[string]any)
				out[u["name"].(string)] = fmt.Sprint(u["two_factor"])
			}
			return out
		}
		carolTok := e.login("carol@example.com")
		all := e.do("GET", "/users", "", bearer(carolTok)).status(http.StatusOK).json()
		if got := fmt.Sprint(names(all)); got != "map[Ada Admin:app Bob:app Carol:off Dan:off]" {
			t.Errorf("users %s", got)
		}
		on := e.do("GET", "/users?two_factor=on", "", bearer(carolTok)).status(http.StatusOK).json()
		if got := fmt.Sprint(names(on)); got != "map[Ada Admin:app Bob:app]" || on["total"] != float64(2) {
			t.Errorf("2FA on: %s %v", got, on["total"])
		}
		off := e.do("GET", "/users?two_factor=off&per_page=1", "", bearer(carolTok)).status(http.StatusOK)
		if got := fmt.Sprint(names(off.json())); got != "map[Carol:off]" || !strings.Contains(off.header.Get("Link"), "two_factor=off") {
			t.Errorf("2FA off: %s, Link %q", got, off.header.Get("Link"))
		}
		e.do("GET", "/users?two_factor=maybe", "", bearer(carolTok)).problem(http.StatusUnprocessableEntity)
		if u := e.do("GET", fmt.Sprintf("/users/%d", bob.ID), "", bearer(carolTok)).json(); u["two_factor"] != "app" || u["two_factor_enabled"] != true {
			t.Errorf("bob %v", u)
		}

		// Reset: admins only, never their own, only in their workspace.
		path := fmt.Sprintf("/users/%d/two-factor/reset", bob.ID)
		e.do("POST", path, "", bearer(carolTok)).problem(http.StatusForbidden)
		// Stripping a second factor is web-only, for admins too.
		if r := e.do("POST", path, "", bearer(e.adminSession)); r.problem(http.StatusForbidden).Detail == "" || problemType(r) != ProblemWebOnly {
			t.Errorf("reset with a bearer token: %s", r.body)
		}
		p := e.do("POST", fmt.Sprintf("/users/%d/two-factor/reset", e.admin.ID), "", cookie(adminWeb)).problem(http.StatusForbidden)
		if p.Detail != e.msg("en", "errors.two_factor_own_reset", nil) {
			t.Errorf("own reset %+v", p)
		}
		e.do("POST", fmt.Sprintf("/users/%d/two-factor/reset", olga.ID), "", cookie(adminWeb)).problem(http.StatusNotFound)
		e.do("POST", path, "", cookie(adminWeb)).status(http.StatusNoContent)
		if m := e.mail.last(t, "two_factor_reset"); m.to != "bob@example.com" {
			t.Errorf("reset mail %+v", m)
		}
		e.do("GET", "/me", "", cookie(bobWeb)).problem(http.StatusUnauthorized) // signed out everywhere
		if u := e.do("GET", fmt.Sprintf("/users/%d", bob.ID), "", cookie(adminWeb)).json(); u["two_factor"] != "off" || u["two_factor_enabled"] != false {
			t.Errorf("bob after reset %v", u)
		}
		e.login("bob@example.com")
		if u := e.do("GET", "/users/"+strconv.FormatInt(carol.ID, 10), "", cookie(adminWeb)).json(); u["two_factor"] != "off" {
			t.Errorf("carol %v", u)
		}
	})
}

func TestTwoFactorOpenAPI(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{})
	doc := e.api.OpenAPI()
	for path, method := range map[string]string{
		"/auth/login/verify": "POST", "/auth/login/resend": "POST", "/me/two-factor": "GET",
		"/me/two-factor/totp": "POST", "/me/two-factor/totp/confirm": "POST", "/me/two-factor/email": "POST",
		"/me/two-factor/email/confirm": "POST", "/me/two-factor/{method}": "DELETE",
		"/me/two-factor/backup-codes": "POST", "/users/{id}/two-factor/reset": "POST",
	} {
		item := doc.Paths[Prefix+path]
		if item == nil {
			t.Errorf("%s %s not documented", method, path)
			continue
		}
		if ok := map[string]bool{"GET": item.Get != nil, "POST": item.Post != nil, "DELETE": item.Delete != nil}[method]; !ok {
			t.Errorf("%s %s not documented", method, path)
		}
	}
	if !strings.Contains(doc.Info.Description, ProblemWebOnly) ||
		!strings.Contains(doc.Paths[Prefix+"/me/two-factor/totp"].Post.Description, ProblemWebOnly) {
		t.Error("web-only problem type not documented")
	}
}
