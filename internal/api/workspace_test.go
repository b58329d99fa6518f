package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestMandatoryTwoFactor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, auth: auth.Config{AccountFailures: 100}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Language = "pt-BR" })
		admin := cookie(e.adminSession)

		// Only admins, and only with their own two-step verification on.
		// Before the workspace requires it, a sign-in needs no setup.
		in := e.signIn("bob@example.com")
		if setupRequired(t, in) {
			t.Errorf("sign-in before the requirement: %v", in)
		}
		bobTok := in["token"].(string)
		e.do("PUT", "/workspace/security/require-two-factor", `{"enabled":true}`, bearer(bobTok)).problem(http.StatusForbidden)
		e.do("GET", "/workspace/security", "", bearer(bobTok)).problem(http.StatusForbidden)
		p := e.do("PUT", "/workspace/security/require-two-factor", `{"enabled":true}`, admin).problem(http.StatusConflict)
		if p.Detail != e.msg("en", "errors.require_2fa_self", nil) {
			t.Errorf("non-compliant admin: %+v", p)
		}
		e.do("PUT", "/workspace/security/require-two-factor", `{}`, admin).problem(http.StatusUnprocessableEntity)
		_, adminBackup := e.enableTOTP(c, e.adminSession, testPassword)
		e.do("PUT", "/workspace/security/require-two-factor", `{"enabled":true}`, admin).status(http.StatusNoContent)
		if s := e.do("GET", "/workspace/security", "", admin).status(http.StatusOK).json(); s["require_two_factor"] != true || fmt.Sprint(s["ip_allowlist"]) != "[]" {
			t.Errorf("security %v", s)
		}

		// A user without two-step verification learns why, and little else.
		// enabling the admin's 2FA ended no session of bob; a fresh sign-in
		// works too, and tells the app that bob must set it up.
		in = e.signIn("bob@example.com")
		if !setupRequired(t, in) {
			t.Errorf("sign-in of a user without 2FA in a workspace requiring it: %v", in)
		}
		bobTok = in["token"].(string)
		r := e.do("GET", "/users", "", bearer(bobTok))
		p = r.problem(http.StatusForbidden)
		if problemType(r) != ProblemTwoFactorRequired || p.Detail != e.msg("pt-BR", "errors.two_factor_required", nil) {
			t.Errorf("users without 2FA: %s", r.body)
		}
		for _, path := range []string{"/me/sessions", fmt.Sprintf("/users/%d", bob.ID)} {
			if r := e.do("GET", path, "", bearer(bobTok)); r.code != http.StatusForbidden || problemType(r) != ProblemTwoFactorRequired {
				t.Errorf("GET %s: %d %s", path, r.code, r.body)
			}
		}
		if me := e.do("GET", "/me", "", bearer(bobTok)).status(http.StatusOK).json(); me["email"] != "bob@example.com" {
			t.Errorf("/me %v", me)
		}
		e.do("GET", "/me/two-factor", "", bearer(bobTok)).status(http.StatusOK)
		e.do("POST", "/auth/logout", "", bearer(bobTok)).status(http.StatusNoContent)
		e.do("GET", "/me", "", bearer(bobTok)).problem(http.StatusUnauthorized)

		// The compliant admin goes on as before, and signs in with a second
		// step and no setup to do; turning it off lets bob in.
		e.do("GET", "/users", "", admin).status(http.StatusOK)
		in = e.do("POST", "/auth/login/verify", verifyBody(e.challenge("ada@example.com"), adminBackup[0])).status(http.StatusOK).json()
		if in["status"] != "signed_in" || setupRequired(t, in) {
			t.Errorf("sign-in of the admin with 2FA: %v", in)
		}
		e.do("PUT", "/workspace/security/require-two-factor", `{"enabled":false}`, admin).status(http.StatusNoContent)
		in = e.signIn("bob@example.com")
		if setupRequired(t, in) {
			t.Errorf("sign-in after the requirement is off: %v", in)
		}
		e.do("GET", fmt.Sprintf("/users/%d", bob.ID), "", bearer(in["token"].(string))).status(http.StatusOK)

		log := e.do("GET", "/audit?type=workspace.require_two_factor", "", admin).status(http.StatusOK).json()
		if got := details(log); got != "[off on]" {
			t.Errorf("audited %s", got)
		}
	})
}

// signIn signs in with the password, expects a session and returns the
// answer.
func (e *env) signIn(email string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, testPassword)).status(http.StatusOK).json()
	if tok, _ := r["token"].(string); r["status"] != "signed_in" || tok == "" {
		e.t.Fatalf("sign-in of %s: %v", email, r)
	}
	return r
}

// setupRequired reads two_factor_setup_required of a sign-in answer: true,
// or else absent or false.
func setupRequired(t *testing.T, answer map[string]any) bool {
	t.Helper()
	v, ok := answer["two_factor_setup_required"]
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		t.Fatalf("two_factor_setup_required %v is not a boolean", v)
	}
	return b
}

// details lists the detail of each item of an audit answer.
func details(log map[string]any) string {
	var out []string
	for _, it := range log["items"].([]any) {
		out = append(out, it.(map[string]any)["detail"].(string))
	}
	return fmt.Sprint(out)
}

func TestIPAllowlist(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, proxy: true, auth: auth.Config{AccountFailures: 100}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		carol := e.user("Acme", "Carol", "carol@example.com", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Language = "es" })
		e.user("Other", "Olga", "olga@example.com", core.RoleAdmin)
		admin := cookie(e.adminSession) // requests come from 127.0.0.1
		const path = "/workspace/security/ip-allowlist"

		// Refusals: a list without the admin's own address, a bad entry, a non-admin.
		p := e.do("PUT", path, `{"entries":["198.51.100.0/24"]}`, admin).problem(http.StatusConflict)
		if p.Detail != e.msg("en", "errors.allowlist_self_lockout", nil) {
			t.Errorf("self-lockout %+v", p)
		}
		e.do("PUT", path, `{"entries":["10.0.0.0/8"]}`, admin, from("10.1.2.3")).status(http.StatusNoContent)
		e.do("PUT", path, `{"entries":[]}`, admin, from("10.1.2.3")).status(http.StatusNoContent)
		p = e.do("PUT", path, `{"entries":["127.0.0.1","not-an-ip"]}`, admin, lang("ru")).problem(http.StatusUnprocessableEntity)
		if got := fields(p)["body.entries"]; got != e.msg("en", "errors.field.allowlist_invalid", map[string]any{"Line": 2, "Value": "not-an-ip"}) {
			t.Errorf("invalid entry %q (%+v)", got, p)
		}
		p = e.do("PUT", path, `{"entries":["127.0.0.1","10.0.0.0/33\n8.8.8.8"]}`, admin).problem(http.StatusUnprocessableEntity)
		if got := fields(p)["body.entries"]; !strings.Contains(got, "2") || !strings.Contains(got, "10.0.0.0/33") {
			t.Errorf("an entry with a line break: %q", got)
		}
		e.do("PUT", path, `{"entries":"127.0.0.1"}`, admin).problem(http.StatusUnprocessableEntity)
		bobTok := e.login("bob@example.com")
		e.do("PUT", path, `{"entries":["127.0.0.1"]}`, bearer(bobTok)).problem(http.StatusForbidden)

		// Bob turns on an authenticator app before the list exists.
		bobWeb := e.webSession(bob)
		secret, _ := e.enableTOTP(c, bobWeb, testPassword)
		carolTok := e.login("carol@example.com")

		e.do("PUT", path, `{"entries":["127.0.0.0/8","2001:db8::1","198.51.100.7/24", "203.0.113.5"]}`, admin).status(http.StatusNoContent)
		s := e.do("GET", "/workspace/security", "", admin).status(http.StatusOK).json()
		if got := fmt.Sprint(s["ip_allowlist"]); got != "[127.0.0.0/8 2001:db8::1 198.51.100.0/24 203.0.113.5]" {
			t.Errorf("allowlist %s", got)
		}

		// Requests from outside the list are refused, in the caller's language.
		r := e.do("GET", "/me", "", cookie(bobWeb), from("192.0.2.44"))
		p = r.problem(http.StatusForbidden)
		if problemType(r) != ProblemIPNotAllowed || p.Detail != e.msg("es", "errors.ip_not_allowed", nil) {
			t.Errorf("outside: %s", r.body)
		}
		e.do("GET", "/me/two-factor", "", bearer(carolTok), from("192.0.2.44")).problem(http.StatusForbidden)
		e.do("GET", "/me", "", bearer(carolTok), from("198.51.100.200")).status(http.StatusOK)
		e.do("GET", "/me", "", bearer(carolTok), from("203.0.113.5")).status(http.StatusOK)
		e.do("GET", "/me", "", bearer(carolTok)).status(http.StatusOK)
		// Another workspace has no list.
		e.do("GET", "/me", "", bearer(e.login("olga@example.com")), from("192.0.2.44")).status(http.StatusOK)

		// Sign-in from outside: 403, no token, no session left behind.
		sessions := func(u *core.User) int {
			list, err := e.auth.Sessions(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		before := sessions(carol)
		r = e.do("POST", "/auth/login", `{"email":"carol@example.com","password":"`+testPassword+`"}`, from("192.0.2.44"))
		r.problem(http.StatusForbidden)
		if problemType(r) != ProblemIPNotAllowed || strings.Contains(string(r.body), "token") {
			t.Errorf("sign-in from outside: %s", r.body)
		}
		if n := sessions(carol); n != before {
			t.Errorf("sessions %d, want %d", n, before)
		}
		// A wrong password stays a plain 401: the list reveals nothing.
		e.do("POST", "/auth/login", `{"email":"carol@example.com","password":"wrong-password-1"}`, from("192.0.2.44")).problem(http.StatusUnauthorized)

		// Two-step sign-ins: no challenge from outside, no token at verify from outside.
		r = e.do("POST", "/auth/login", `{"email":"bob@example.com","password":"`+testPassword+`"}`, from("192.0.2.44"))
		if r.problem(http.StatusForbidden); problemType(r) != ProblemIPNotAllowed || strings.Contains(string(r.body), "challenge") {
			t.Errorf("2FA sign-in from outside: %s", r.body)
		}
		ch := e.challenge("bob@example.com")
		before = sessions(bob)
		c.add(30 * time.Second)
		r = e.do("POST", "/auth/login/verify", verifyBody(ch, oathtool(t, secret, c.now())), from("192.0.2.44"))
		if r.problem(http.StatusForbidden); problemType(r) != ProblemIPNotAllowed {
			t.Errorf("verify from outside: %s", r.body)
		}
		if n := sessions(bob); n != before {
			t.Errorf("bob's sessions %d, want %d", n, before)
		}

		// An empty list opens the workspace again.
		e.do("PUT", path, `{"entries":[]}`, admin).status(http.StatusNoContent)
		e.do("GET", "/me", "", bearer(carolTok), from("192.0.2.44")).status(http.StatusOK)
		if s := e.do("GET", "/workspace/security", "", admin).json(); fmt.Sprint(s["ip_allowlist"]) != "[]" {
			t.Errorf("cleared %v", s)
		}
		if n := len(e.do("GET", "/audit?type=workspace.ip_allowlist", "", admin).json()["items"].([]any)); n != 4 {
			t.Errorf("%d allowlist changes audited, want 4", n)
		}
	})
}

func TestSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		e.user("Acme", "Carol", "carol@example.com", core.RoleUser)
		web := e.webSession(bob)
		tok := e.login("bob@example.com")

		var list SessionList
		get := func(o opt) []*Session {
			t.Helper()
			r := e.do("GET", "/me/sessions", "", o).status(http.StatusOK)
			list = SessionList{}
			if err := json.Unmarshal(r.body, &list); err != nil {
				t.Fatal(err)
			}
			return list.Items
		}
		items := get(bearer(tok))
		if len(items) != 2 {
			t.Fatalf("sessions %+v", items)
		}
		var webID, apiID int64
		for _, s := range items {
			if s.Device == "Firefox on Linux" {
				webID = s.ID
				if s.Current || s.IP != "127.0.0.1" || s.CreatedAt.IsZero() || s.LastSeenAt.IsZero() {
					t.Errorf("web session %+v", s)
				}
			} else {
				apiID = s.ID
				if !s.Current || s.IP != "127.0.0.1" {
					t.Errorf("API session %+v", s)
				}
			}
		}
		if webID == 0 || apiID == 0 {
			t.Fatalf("sessions %+v", items)
		}
		for _, s := range get(cookie(web)) {
			if s.Current != (s.ID == webID) {
				t.Errorf("current from the browser: %+v", s)
			}
		}

		// Someone else's session does not exist for bob.
		carolTok := e.login("carol@example.com")
		carolID := get(bearer(carolTok))[0].ID
		e.do("DELETE", fmt.Sprintf("/me/sessions/%d", carolID), "", bearer(tok)).problem(http.StatusNotFound)
		e.do("GET", "/me", "", bearer(carolTok)).status(http.StatusOK)
		e.do("DELETE", "/me/sessions/0", "", bearer(tok)).problem(http.StatusUnprocessableEntity)

		// Sign out one, then every other.
		e.do("DELETE", fmt.Sprintf("/me/sessions/%d", webID), "", bearer(tok)).status(http.StatusNoContent)
		e.do("GET", "/me", "", cookie(web)).problem(http.StatusUnauthorized)
		web2, tok2 := e.webSession(bob), e.login("bob@example.com")
		if n := len(get(bearer(tok))); n != 3 {
			t.Errorf("%d sessions, want 3", n)
		}
		e.do("DELETE", "/me/sessions", "", bearer(tok)).status(http.StatusNoContent)
		e.do("GET", "/me", "", cookie(web2)).problem(http.StatusUnauthorized)
		e.do("GET", "/me", "", bearer(tok2)).problem(http.StatusUnauthorized)
		if items := get(bearer(tok)); len(items) != 1 || items[0].ID != apiID || !items[0].Current {
			t.Errorf("after signing out the others: %+v", items)
		}
		e.do("GET", "/me", "", bearer(carolTok)).status(http.StatusOK)

		log := e.do("GET", fmt.Sprintf("/audit?type=session.revoked&user_id=%d", bob.ID), "", bearer(e.adminSession)).status(http.StatusOK).json()
		if got := details(log); got != "[all others Firefox on Linux]" {
			t.Errorf("audited %s", got)
		}
	})
}

func TestWorkspaceAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, auth: auth.Config{AccountFailures: 100}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		olga := e.user("Other", "Olga", "olga@example.com", core.RoleAdmin)
		admin := bearer(e.adminSession)

		e.do("POST", "/auth/login", `{"email":"bob@example.com","password":"wrong-password-1"}`).problem(http.StatusUnauthorized)
		e.login("bob@example.com")
		e.enableTOTP(c, e.webSession(bob), testPassword)
		bobTok := e.webSession(bob)
		e.login("olga@example.com")

		items := func(r *response) []map[string]any {
			t.Helper()
			var out []map[string]any
			for _, it := range r.json()["items"].([]any) {
				out = append(out, it.(map[string]any))
			}
			return out
		}
		all := items(e.do("GET", "/audit", "", admin).status(http.StatusOK))
		if len(all) < 4 {
			t.Fatalf("audit %v", all)
		}
		for _, it := range all {
			if it["target_id"] == float64(olga.ID) {
				t.Errorf("another workspace's entry %v", it)
			}
		}
		tf := items(e.do("GET", "/audit?type=two_factor.", "", admin).status(http.StatusOK))
		if len(tf) != 1 || tf[0]["action"] != "two_factor.enabled" || tf[0]["actor_id"] != float64(bob.ID) ||
			tf[0]["actor_name"] != "Bob" || tf[0]["target_id"] != float64(bob.ID) || tf[0]["created_at"] == "" {
			t.Errorf("two_factor. %v", tf)
		}
		bobs := items(e.do("GET", fmt.Sprintf("/audit?user_id=%d", bob.ID), "", admin).status(http.StatusOK))
		for _, it := range bobs {
			if it["target_id"] != float64(bob.ID) {
				t.Errorf("user filter: %v", it)
			}
		}
		// One row, one shape: the user's log and the workspace's agree.
		own := items(e.do("GET", fmt.Sprintf("/users/%d/audit", bob.ID), "", admin).status(http.StatusOK))
		if len(own) == 0 || len(bobs) == 0 || !reflect.DeepEqual(own[0], bobs[0]) {
			t.Errorf("the same entry in two shapes:\n/users/{id}/audit %v\n/audit %v", own, bobs)
		}
		failed := items(e.do("GET", fmt.Sprintf("/audit?type=sign_in.failed&user_id=%d", bob.ID), "", admin).status(http.StatusOK))
		if len(failed) != 1 || failed[0]["actor_id"] != nil || failed[0]["actor_name"] != "" || failed[0]["ip"] != "127.0.0.1" {
			t.Errorf("failed sign-ins %v", failed)
		}
		if n := len(items(e.do("GET", "/audit?limit=1", "", admin).status(http.StatusOK))); n != 1 {
			t.Errorf("limit=1 gave %d", n)
		}
		e.do("GET", "/audit?limit=0", "", admin).problem(http.StatusUnprocessableEntity)
		e.do("GET", fmt.Sprintf("/audit?user_id=%d", olga.ID), "", admin).problem(http.StatusNotFound)
		e.do("GET", "/audit", "", bearer(bobTok)).problem(http.StatusForbidden)
		e.do("GET", "/audit", "", bearer(bobTok), header("Accept", "text/csv")).problem(http.StatusForbidden)

		// The CSV export, by Accept or by format.
		for _, o := range []struct {
			query string
			opts  []opt
		}{{"", []opt{admin, header("Accept", "text/csv")}}, {"?format=csv", []opt{admin}}} {
			r := e.do("GET", "/audit"+o.query, "", o.opts...).status(http.StatusOK)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") || !strings.HasSuffix(cd, `.csv"`) {
				t.Errorf("Content-Disposition %q", cd)
			}
			rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
			if err != nil {
				t.Fatalf("csv: %v\n%s", err, r.body)
			}
			if strings.Join(rows[0], ",") != "id,time,action,actor_id,actor_name,target_id,detail,ip" || len(rows) != len(all)+1 {
				t.Errorf("csv %d rows: %v", len(rows), rows[0])
			}
		}
		r := e.do("GET", "/audit?type=two_factor.", "", admin, header("Accept", "application/json, text/csv;q=0.5")).status(http.StatusOK)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("preferring JSON: %q", ct)
		}
	})
}

func TestSendTwoFactorCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newClock(db)
		e := newEnv(t, db, envOpts{deps: roomy, auth: auth.Config{AccountFailures: 100}})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		web := e.webSession(bob)
		e.do("POST", "/me/two-factor/send-code", "", cookie(web)).problem(http.StatusConflict) // email codes are off

		e.do("POST", "/me/two-factor/email", `{"password":"`+testPassword+`"}`, cookie(web)).status(http.StatusAccepted)
		code := e.mail.last(t, "two_factor_code").data["Code"].(string)
		e.do("POST", "/me/two-factor/email/confirm", `{"code":"`+code+`"}`, cookie(web)).status(http.StatusOK)

		r := e.do("POST", "/me/two-factor/send-code", "", bearer(web))
		if r.problem(http.StatusForbidden); problemType(r) != ProblemWebOnly {
			t.Errorf("bearer: %s", r.body)
		}
		c.add(2 * time.Minute)
		e.do("POST", "/me/two-factor/send-code", "", cookie(web)).status(http.StatusAccepted)
		code = e.mail.last(t, "two_factor_code").data["Code"].(string)
		r = e.do("POST", "/me/two-factor/send-code", "", cookie(web))
		r.problem(http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		// The code turns email codes off.
		e.do("DELETE", "/me/two-factor/email", `{"password":"`+testPassword+`","code":"`+code+`"}`, cookie(web)).status(http.StatusNoContent)
	})
}

func TestSecurityOpenAPI(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{})
	doc := e.api.OpenAPI()
	for _, want := range []string{ProblemIPNotAllowed, ProblemTwoFactorRequired} {
		if !strings.Contains(doc.Info.Description, want) {
			t.Errorf("%s not documented", want)
		}
	}
	audit := doc.Paths[Prefix+"/audit"].Get
	if audit == nil || audit.Responses["200"].Content["text/csv"] == nil || audit.Responses["200"].Content["application/json"].Schema == nil {
		t.Fatalf("audit responses not documented")
	}
	if !strings.Contains(doc.Paths[Prefix+"/auth/login"].Post.Description, ProblemIPNotAllowed) {
		t.Error("login does not mention the allowlist")
	}
	if doc.Paths[Prefix+"/users"].Get.Responses["403"] == nil {
		t.Error("signed-in operations do not list 403")
	}
}
