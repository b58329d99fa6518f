package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

const newPassword = "amber-lantern-river-57"

// roomy lifts the rate limit for tests that make many calls.
var roomy = Deps{RateBurst: 10000}

// withoutSignIns returns the items of an audit log answer but sign-in
// entries, which every sign-in of a test adds.
func withoutSignIns(log map[string]any) []any {
	all, _ := log["items"].([]any)
	var out []any
	for _, it := range all {
		if a, _ := it.(map[string]any)["action"].(string); !strings.HasPrefix(a, "sign_in.") {
			out = append(out, it)
		}
	}
	return out
}

// fields maps a problem's error locations to their messages.
func fields(p problemDoc) map[string]string {
	m := map[string]string{}
	for _, fe := range p.Errors {
		m[fe.Location] = fe.Message
	}
	return m
}

func TestUpdateProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		pat := e.user("Acme", "Pat", "pat@example.com", core.RoleUser, core.RightProfileAccess)
		olga := e.user("Other", "Olga", "olga@example.com", core.RoleUser)
		bobTok, patTok := e.login("bob@example.com"), e.login("pat@example.com")
		bobPath := fmt.Sprintf("/users/%d", bob.ID)

		u := e.do("PATCH", "/me", `{"name":"  Bobby Tables ","timezone":"Europe/Madrid","language":"es"}`, bearer(bobTok)).
			status(http.StatusOK).json()
		if u["name"] != "Bobby Tables" || u["timezone"] != "Europe/Madrid" || u["language"] != "es" || u["email"] != "bob@example.com" {
			t.Fatalf("after PATCH: %v", u)
		}
		if v, ok := u["pending_email"]; !ok || v != nil {
			t.Errorf("pending_email = %v (present %v), want null", v, ok)
		}
		if v, ok := u["photo"]; !ok || v != nil {
			t.Errorf("photo = %v (present %v), want null", v, ok)
		}
		if _, ok := u["note"]; ok {
			t.Errorf("normal user gets the note key: %v", u)
		}
		// Merge semantics: absent fields stay; the merge-patch type is fine too.
		u = e.do("PATCH", "/me", `{"phone":"+1 202-456-1111"}`, bearer(bobTok), header("Content-Type", "application/merge-patch+json")).
			status(http.StatusOK).json()
		if u["name"] != "Bobby Tables" || u["phone"] != "+12024561111" || u["phone_display"] != "+1 202-456-1111" {
			t.Fatalf("after phone PATCH: %v", u)
		}

		// Several bad fields: all reported, in the user's (new) language; nothing changes.
		r := e.do("PATCH", "/me", `{"name":" ","phone":"12345","language":"xx","timezone":"Mars/Olympus","note":"x"}`, bearer(bobTok))
		r.problem(http.StatusForbidden) // the note alone is refused first
		p := e.do("PATCH", "/me", `{"name":" ","phone":"12345","language":"xx","timezone":"Mars/Olympus"}`, bearer(bobTok), lang("en")).
			problem(http.StatusUnprocessableEntity)
		want := map[string]string{
			"body.name":     e.msg("es", "errors.field.name_invalid", nil),
			"body.phone":    e.msg("es", "errors.field.phone_invalid", nil),
			"body.language": e.msg("es", "errors.field.language_invalid", nil),
			"body.timezone": e.msg("es", "errors.field.timezone_invalid", nil),
		}
		got := fields(p)
		for loc, msg := range want {
			if got[loc] != msg {
				t.Errorf("%s: %q, want %q", loc, got[loc], msg)
			}
		}
		if len(got) != len(want) || want["body.name"] == e.msg("en", "errors.field.name_invalid", nil) {
			t.Errorf("errors %v", got)
		}
		// A valid field next to an invalid one is not applied either.
		e.do("PATCH", "/me", `{"name":"Robert","phone":"12345"}`, bearer(bobTok)).problem(http.StatusUnprocessableEntity)
		if u := e.do("GET", "/me", "", bearer(bobTok)).status(http.StatusOK).json(); u["name"] != "Bobby Tables" || u["phone"] != "+12024561111" {
			t.Errorf("refused save changed something: %v", u)
		}

		// The email cannot be set here; null counts as absent.
		p = e.do("PATCH", "/me", `{"email":"bobby@example.com"}`, bearer(bobTok)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.email"] != e.msg("es", "api.errors.field_unknown", nil) {
			t.Errorf("email in PATCH: %+v", p)
		}
		if u := e.do("PATCH", "/me", `{"name":null,"phone":null}`, bearer(bobTok)).status(http.StatusOK).json(); u["name"] != "Bobby Tables" || u["phone"] != "+12024561111" {
			t.Errorf("null changed something: %v", u)
		}

		// The note: 403 for a normal user, allowed with profile access.
		e.do("PATCH", bobPath, `{"note":"Wants a raise"}`, bearer(bobTok)).problem(http.StatusForbidden)
		u = e.do("PATCH", bobPath, `{"note":"  VIP customer contact  "}`, bearer(patTok)).status(http.StatusOK).json()
		if u["note"] != "VIP customer contact" || u["name"] != "Bobby Tables" {
			t.Fatalf("note by profile access: %v", u)
		}
		p = e.do("PATCH", bobPath, `{"note":"`+strings.Repeat("n", 2001)+`"}`, bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.note"] != e.msg("en", "errors.field.too_long", map[string]any{"Count": 2000}) {
			t.Errorf("long note: %+v", p)
		}
		for _, path := range []string{"/me", bobPath} {
			r := e.do("GET", path, "", bearer(bobTok)).status(http.StatusOK)
			if _, ok := r.json()["note"]; ok || strings.Contains(string(r.body), "VIP") {
				t.Errorf("normal user sees the note at %s: %s", path, r.body)
			}
		}
		if u := e.do("GET", bobPath, "", bearer(e.adminSession)).status(http.StatusOK).json(); u["note"] != "VIP customer contact" {
			t.Errorf("admin sees note %v", u["note"])
		}
		// Profile access may not write the note about themselves (403 on
		// either path, nothing saved), but still reads it.
		patPath := fmt.Sprintf("/users/%d", pat.ID)
		e.do("PATCH", patPath, `{"note":"Reliable"}`, bearer(e.adminSession)).status(http.StatusOK)
		for _, path := range []string{"/me", patPath} {
			e.do("PATCH", path, `{"note":"Brilliant","name":"Patty"}`, bearer(patTok)).problem(http.StatusForbidden)
		}
		if u := e.do("GET", "/me", "", bearer(patTok)).status(http.StatusOK).json(); u["note"] != "Reliable" || u["name"] != "Pat" {
			t.Errorf("own profile with profile access after refused note writes: %v", u)
		}

		// Others' profiles: admins and profile access only, own workspace only.
		e.do("PATCH", fmt.Sprintf("/users/%d", pat.ID), `{"name":"Patricia"}`, bearer(bobTok)).problem(http.StatusForbidden)
		if u := e.do("PATCH", bobPath, `{"name":"Bob"}`, bearer(e.adminSession)).status(http.StatusOK).json(); u["name"] != "Bob" {
			t.Errorf("admin rename: %v", u)
		}
		e.do("PATCH", fmt.Sprintf("/users/%d", olga.ID), `{"name":"Olga B"}`, bearer(e.adminSession)).problem(http.StatusNotFound)
		e.do("PATCH", "/me", `{"name":"Nobody"}`).problem(http.StatusUnauthorized)

		// The note change is in the audit log, for admins only.
		log := e.do("GET", bobPath+"/audit", "", bearer(e.adminSession)).status(http.StatusOK).json()
		items := withoutSignIns(log)
		if len(items) != 1 {
			t.Fatalf("audit %v", log)
		}
		entry := items[0].(map[string]any)
		if entry["action"] != "note.changed" || entry["actor_id"] != float64(pat.ID) || entry["actor_name"] != "Pat" ||
			entry["ip"] == "" || entry["created_at"] == nil || strings.Contains(fmt.Sprint(entry), "VIP") {
			t.Errorf("audit entry %v", entry)
		}
		e.do("GET", bobPath+"/audit", "", bearer(patTok)).problem(http.StatusForbidden)
		e.do("GET", bobPath+"/audit", "", bearer(bobTok)).problem(http.StatusForbidden)
		e.do("GET", fmt.Sprintf("/users/%d/audit", olga.ID), "", bearer(e.adminSession)).problem(http.StatusNotFound)
	})
}

func TestProfilePhones(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{lang: "es", deps: roomy}) // workspace country ES
		for _, c := range []struct{ in, e164, display string }{
			{"612 34 56 78", "+34612345678", "+34 612 34 56 78"},
			{"+55 11 91234-5678", "+5511912345678", "+55 11 91234-5678"},
			{"+49 30 901820", "+4930901820", "+49 30 901820"},
			{"00 90 532 123 45 67", "+905321234567", "+90 532 123 45 67"},
			{"+7 912 345-67-89", "+79123456789", "+7 912 345-67-89"},
			{"+62 812-3456-7890", "+6281234567890", "+62 812-3456-7890"},
		} {
			u := e.do("PATCH", "/me", fmt.Sprintf(`{"phone":%q}`, c.in), bearer(e.adminSession)).status(http.StatusOK).json()
			if u["phone"] != c.e164 || u["phone_display"] != c.display {
				t.Errorf("%q: phone %v, display %v; want %s, %s", c.in, u["phone"], u["phone_display"], c.e164, c.display)
			}
		}
		for _, bad := range []string{"12345", "+34 12", "call me", "+999 123456789"} {
			p := e.do("PATCH", "/me", fmt.Sprintf(`{"phone":%q}`, bad), bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
			if fields(p)["body.phone"] != e.msg("es", "errors.field.phone_invalid", nil) {
				t.Errorf("%q: %+v", bad, p)
			}
		}
		// An empty string clears it.
		u := e.do("PATCH", "/me", `{"phone":""}`, bearer(e.adminSession)).status(http.StatusOK).json()
		if u["phone"] != "" || u["phone_display"] != "" {
			t.Errorf("cleared phone: %v", u)
		}
	})
}

func TestEmailChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		olga := e.user("Other", "Olga", "olga@example.com", core.RoleUser)
		bobTok := e.login("bob@example.com")

		u := e.do("POST", "/me/email-change", `{"email":" Bob.New@Example.com "}`, bearer(bobTok)).status(http.StatusAccepted).json()
		if u["pending_email"] != "bob.new@example.com" || u["email"] != "bob@example.com" {
			t.Fatalf("after request: %v", u)
		}
		if u := e.do("GET", "/me", "", bearer(bobTok)).status(http.StatusOK).json(); u["pending_email"] != "bob.new@example.com" {
			t.Errorf("GET /me pending_email %v", u["pending_email"])
		}
		if u := e.do("GET", fmt.Sprintf("/users/%d", bob.ID), "", bearer(e.adminSession)).json(); u["pending_email"] != "bob.new@example.com" {
			t.Errorf("admin sees pending_email %v", u["pending_email"])
		}
		confirm := e.mail.last(t, "email_confirm")
		link, _ := confirm.data["Link"].(string)
		token, ok := strings.CutPrefix(link, "http://localhost/email/confirm/")
		if confirm.to != "bob.new@example.com" || !ok || token == "" {
			t.Fatalf("confirm mail %+v", confirm)
		}
		if notice := e.mail.last(t, "email_change_notice"); notice.to != "bob@example.com" {
			t.Errorf("notice to %s", notice.to)
		}

		// The link applies it; then nothing is pending.
		if _, err := e.profiles.ConfirmEmailChange(ctx, token, "127.0.0.1"); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		u = e.do("GET", "/me", "", bearer(bobTok)).status(http.StatusOK).json()
		if v, present := u["pending_email"]; u["email"] != "bob.new@example.com" || !present || v != nil {
			t.Fatalf("after confirm: %v", u)
		}

		// Cancel: 200 with nothing pending, then 404 with a clear message.
		e.do("POST", "/me/email-change", `{"email":"bob.third@example.com"}`, bearer(bobTok)).status(http.StatusAccepted)
		u = e.do("DELETE", "/me/email-change", "", bearer(bobTok)).status(http.StatusOK).json()
		if u["pending_email"] != nil || u["email"] != "bob.new@example.com" {
			t.Errorf("after cancel: %v", u)
		}
		p := e.do("DELETE", "/me/email-change", "", bearer(bobTok), lang("tr")).problem(http.StatusNotFound)
		if p.Detail != e.msg("en", "errors.no_pending_email_change", nil) {
			t.Errorf("nothing to cancel: %q", p.Detail)
		}

		// Bad addresses.
		for body, key := range map[string]string{
			`{"email":"not-an-email"}`:        "errors.field.email_invalid",
			`{"email":"BOB.NEW@example.com"}`: "errors.field.email_same",
		} {
			p := e.do("POST", "/me/email-change", body, bearer(bobTok)).problem(http.StatusUnprocessableEntity)
			if fields(p)["body.email"] != e.msg("en", key, nil) {
				t.Errorf("%s: %+v", body, p)
			}
		}

		// Another account's address: 202 like a free one (and audited), no mail to its owner.
		n := len(e.mail.mails)
		if u := e.do("POST", "/me/email-change", `{"email":"ada@example.com"}`, bearer(bobTok)).status(http.StatusAccepted).json(); u["pending_email"] != "ada@example.com" {
			t.Errorf("taken address: %v", u)
		}
		for _, m := range e.mail.mails[n:] {
			if m.to == "ada@example.com" {
				t.Errorf("the owner of a taken address got %s", m.template)
			}
		}

		// Admins change others' addresses; normal users cannot; other workspaces do not exist.
		path := fmt.Sprintf("/users/%d/email-change", bob.ID)
		if u := e.do("POST", path, `{"email":"robert@example.com"}`, bearer(e.adminSession)).status(http.StatusAccepted).json(); u["pending_email"] != "robert@example.com" {
			t.Errorf("admin request: %v", u)
		}
		e.do("DELETE", path, "", bearer(e.adminSession)).status(http.StatusOK)
		e.do("DELETE", path, "", bearer(e.adminSession)).problem(http.StatusNotFound)
		e.do("POST", fmt.Sprintf("/users/%d/email-change", e.admin.ID), `{"email":"boss@example.com"}`, bearer(bobTok)).problem(http.StatusForbidden)
		e.do("DELETE", fmt.Sprintf("/users/%d/email-change", e.admin.ID), "", bearer(bobTok)).problem(http.StatusForbidden)
		p1 := e.do("POST", fmt.Sprintf("/users/%d/email-change", olga.ID), `{"email":"o2@example.com"}`, bearer(e.adminSession)).problem(http.StatusNotFound)
		p2 := e.do("DELETE", fmt.Sprintf("/users/%d/email-change", olga.ID), "", bearer(e.adminSession)).problem(http.StatusNotFound)
		if p1.Detail != e.msg("en", "errors.not_found", nil) || p2.Detail != p1.Detail {
			t.Errorf("foreign user: %q / %q", p1.Detail, p2.Detail)
		}

		// Two-step verification on: 409 with its problem type, for the user and for an admin.
		e.update(bob, func(u *core.User) { u.TwoFactorEnabled = true; u.Language = "pt-BR" })
		r := e.do("POST", "/me/email-change", `{"email":"bob.2fa@example.com"}`, bearer(bobTok))
		p = r.problem(http.StatusConflict)
		var doc struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(r.body, &doc); err != nil || doc.Type != "/api/v1/problems/two-factor-enabled" {
			t.Errorf("type %q (%v)", doc.Type, err)
		}
		if p.Detail != e.msg("pt-BR", "errors.email_locked_2fa", nil) {
			t.Errorf("2FA detail %q", p.Detail)
		}
		r = e.do("POST", path, `{"email":"bob.2fa@example.com"}`, bearer(e.adminSession))
		r.problem(http.StatusConflict)
		if !strings.Contains(string(r.body), ProblemTwoFactorEnabled) {
			t.Errorf("admin 2FA refusal %s", r.body)
		}
		if u := e.do("GET", "/me", "", bearer(bobTok)).json(); u["pending_email"] != nil {
			t.Errorf("refused change is pending: %v", u)
		}

		// Requests, cancels and the final change are audited.
		log := e.do("GET", fmt.Sprintf("/users/%d/audit", bob.ID), "", bearer(e.adminSession)).status(http.StatusOK).json()
		actions := map[string]int{}
		for _, it := range log["items"].([]any) {
			entry := it.(map[string]any)
			actions[entry["action"].(string)]++
			if entry["action"] == "email.changed" && (entry["actor_id"] != nil || entry["actor_name"] != "") {
				t.Errorf("link holder entry %v", entry)
			}
		}
		if actions["email.change_requested"] != 4 || actions["email.change_cancelled"] != 2 || actions["email.changed"] != 1 {
			t.Errorf("audit actions %v", actions)
		}
	})
}

func TestChangePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		older := e.login("bob@example.com")
		bobTok := e.login("bob@example.com")

		// Fresh session: no current password needed; other sessions end.
		e.do("POST", "/me/password", `{"new_password":"`+newPassword+`"}`, bearer(bobTok)).status(http.StatusNoContent)
		e.do("GET", "/me", "", bearer(bobTok)).status(http.StatusOK)
		e.do("GET", "/me", "", bearer(older)).problem(http.StatusUnauthorized)
		if m := e.mail.last(t, "password_changed"); m.to != "bob@example.com" {
			t.Errorf("notice to %s", m.to)
		}
		e.loginWith("bob@example.com", newPassword)

		// New password rules.
		for body, key := range map[string]string{
			`{"new_password":"short"}`:           "errors.field.too_short",
			`{"new_password":"bob@example.com"}`: "errors.field.password_is_email",
		} {
			p := e.do("POST", "/me/password", body, bearer(bobTok)).problem(http.StatusUnprocessableEntity)
			msg := fields(p)["body.new_password"]
			if key == "errors.field.too_short" {
				if msg != e.msg("en", key, map[string]any{"Count": 8}) {
					t.Errorf("%s: %+v", body, p)
				}
			} else if msg != e.msg("en", key, nil) {
				t.Errorf("%s: %+v", body, p)
			}
		}
		p := e.do("POST", "/me/password", `{}`, bearer(bobTok)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.new_password"] != e.msg("en", "errors.field.required", nil) {
			t.Errorf("missing new_password: %+v", p)
		}

		// Eleven minutes later the current password is required.
		db.SetClock(func() time.Time { return time.Now().Add(11 * time.Minute) })
		t.Cleanup(func() { db.SetClock(time.Now) })
		p = e.do("POST", "/me/password", `{"new_password":"another-fine-phrase-8"}`, bearer(bobTok)).problem(http.StatusUnprocessableEntity)
		if got := fields(p); got["body.current_password"] != e.msg("en", "errors.field.required", nil) || len(got) != 1 {
			t.Errorf("old session without current: %+v", p)
		}
		p = e.do("POST", "/me/password", `{"current_password":"wrong-one-123","new_password":"short"}`, bearer(bobTok)).
			problem(http.StatusUnprocessableEntity)
		if got := fields(p); got["body.current_password"] != e.msg("en", "errors.field.password_wrong", nil) || got["body.new_password"] == "" {
			t.Errorf("wrong current and weak new: %+v", p)
		}
		e.do("POST", "/me/password", `{"current_password":"`+newPassword+`","new_password":"another-fine-phrase-8"}`, bearer(bobTok)).
			status(http.StatusNoContent)
		db.SetClock(time.Now)

		// The web session of the cookie is a session too: fresh, so no current password.
		e.do("POST", "/me/password", `{"new_password":"`+newPassword+`"}`, cookie(e.adminSession), header("Sec-Fetch-Site", "same-origin")).
			status(http.StatusNoContent)

		// API tokens always need the current password, and are not sessions that end.
		secret, _, err := e.auth.CreateAPIToken(ctx, e.admin, "Script", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p = e.do("POST", "/me/password", `{"new_password":"another-fine-phrase-8"}`, bearer(secret)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.current_password"] != e.msg("en", "errors.field.required", nil) {
			t.Errorf("API token without current: %+v", p)
		}
		e.do("POST", "/me/password", `{"current_password":"`+newPassword+`","new_password":"another-fine-phrase-8"}`, bearer(secret)).
			status(http.StatusNoContent)
		e.do("GET", "/me", "", bearer(secret)).status(http.StatusOK)
		e.do("GET", "/me", "", cookie(e.adminSession)).problem(http.StatusUnauthorized)

		// Two-step verification on: required even right after signing in.
		// The flag alone (no method) makes sign-in ask for a second step, so
		// the fresh session is opened as a finished sign-in would open it.
		e.update(bob, func(u *core.User) { u.TwoFactorEnabled = true })
		r := e.do("POST", "/auth/login", `{"email":"bob@example.com","password":"another-fine-phrase-8"}`).status(http.StatusOK).json()
		if r["status"] != "second_factor_required" || r["token"] != nil {
			t.Fatalf("2FA sign-in %v", r)
		}
		var fresh string
		err = db.InTx(ctx, func(q *store.Q) error {
			var err error
			fresh, _, err = e.auth.StartSession(ctx, q, bob.ID, core.SessionAPI, "127.0.0.1", "test")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		p = e.do("POST", "/me/password", `{"new_password":"`+newPassword+`"}`, bearer(fresh)).problem(http.StatusUnprocessableEntity)
		if fields(p)["body.current_password"] != e.msg("en", "errors.field.required", nil) {
			t.Errorf("2FA without current: %+v", p)
		}
		e.do("POST", "/me/password", `{"current_password":"another-fine-phrase-8","new_password":"`+newPassword+`"}`, bearer(fresh)).
			status(http.StatusNoContent)
	})
}

func TestPasswordReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		e.user("Acme", "Pat", "pat@example.com", core.RoleUser, core.RightProfileAccess)
		olga := e.user("Other", "Olga", "olga@example.com", core.RoleUser)
		bobTok, patTok := e.login("bob@example.com"), e.login("pat@example.com")
		path := fmt.Sprintf("/users/%d/password-reset", bob.ID)

		r := e.do("POST", path, "", bearer(e.adminSession)).status(http.StatusAccepted)
		if len(r.body) != 0 {
			t.Errorf("202 body %s", r.body)
		}
		m := e.mail.last(t, "password_reset")
		if link, _ := m.data["Link"].(string); m.to != "bob@example.com" || !strings.HasPrefix(link, "http://localhost/password/reset/") {
			t.Errorf("reset mail %+v", m)
		}
		e.do("POST", path, "", bearer(patTok)).problem(http.StatusForbidden)
		e.do("POST", fmt.Sprintf("/users/%d/password-reset", e.admin.ID), "", bearer(bobTok)).problem(http.StatusForbidden)
		e.do("POST", fmt.Sprintf("/users/%d/password-reset", olga.ID), "", bearer(e.adminSession)).problem(http.StatusNotFound)

		log := e.do("GET", fmt.Sprintf("/users/%d/audit", bob.ID), "", bearer(e.adminSession)).status(http.StatusOK).json()
		items := withoutSignIns(log)
		if len(items) != 1 || items[0].(map[string]any)["action"] != "password.reset_sent" {
			t.Errorf("audit %v", log)
		}
	})
}
