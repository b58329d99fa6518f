package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/live"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		e.user("Acme", "Bob", "bob@example.com", core.RoleUser)

		r := e.do("POST", "/auth/login", `{"email":"Bob@Example.com","password":"`+testPassword+`"}`).status(http.StatusOK)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		var res LoginResult
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		if res.Status != "signed_in" || res.TokenType != "Bearer" || res.Token == "" || res.ExpiresAt == nil ||
			res.User == nil || res.User.Email != "bob@example.com" || res.SetupRequired {
			t.Fatalf("login result %s", r.body)
		}
		if !res.ExpiresAt.After(time.Now()) {
			t.Errorf("expires_at %v in the past", res.ExpiresAt)
		}

		me := e.do("GET", "/me", "", bearer(res.Token)).status(http.StatusOK).json()
		if me["email"] != "bob@example.com" || me["name"] != "Bob" || me["role"] != "user" {
			t.Fatalf("/me = %v", me)
		}
		sessions, err := e.auth.Sessions(context.Background(), &core.User{ID: res.User.ID})
		if err != nil || len(sessions) != 1 || sessions[0].Kind != core.SessionAPI {
			t.Fatalf("sessions %+v %v, want one API session", sessions, err)
		}

		// Wrong password: 401 problem, translated by Accept-Language.
		bad := `{"email":"bob@example.com","password":"wrong-password-123"}`
		p := e.do("POST", "/auth/login", bad).problem(http.StatusUnauthorized)
		if p.Detail != e.msg("en", "errors.login_failed", nil) {
			t.Errorf("en detail %q", p.Detail)
		}
		r = e.do("POST", "/auth/login", bad, lang("es-MX,es;q=0.9,en;q=0.5"))
		p = r.problem(http.StatusUnauthorized)
		if want := e.msg("es", "errors.login_failed", nil); p.Detail != want || want == e.msg("en", "errors.login_failed", nil) {
			t.Errorf("es detail %q, want %q", p.Detail, want)
		}
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
		// Unknown account reads exactly the same.
		p2 := e.do("POST", "/auth/login", `{"email":"nobody@example.com","password":"x"}`, lang("es")).problem(http.StatusUnauthorized)
		if p2.Detail != p.Detail {
			t.Errorf("unknown account %q differs from wrong password %q", p2.Detail, p.Detail)
		}
	})
}

func TestLoginThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{auth: auth.Config{AccountFailures: 3}})
		bad := `{"email":"ada@example.com","password":"wrong-password-123"}`
		for range 3 {
			e.do("POST", "/auth/login", bad).problem(http.StatusUnauthorized)
		}
		r := e.do("POST", "/auth/login", bad, lang("ru"))
		p := r.problem(http.StatusTooManyRequests)
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || secs < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		if want := e.msg("ru", "errors.too_many_requests", map[string]any{"Count": secs}); p.Detail != want {
			t.Errorf("detail %q, want %q", p.Detail, want)
		}
		// Even the right password waits now.
		e.do("POST", "/auth/login", `{"email":"ada@example.com","password":"`+testPassword+`"}`).problem(http.StatusTooManyRequests)
	})
}

func TestInactiveUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		tok := e.login("bob@example.com")
		e.do("GET", "/me", "", bearer(tok)).status(http.StatusOK)

		u := e.do("POST", fmt.Sprintf("/users/%d/deactivate", bob.ID), "", bearer(e.adminSession)).status(http.StatusOK).json()
		if u["state"] != "inactive" {
			t.Fatalf("after deactivate: %v", u)
		}
		r := e.do("GET", "/me", "", bearer(tok))
		r.problem(http.StatusUnauthorized)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
		e.do("POST", "/auth/login", `{"email":"bob@example.com","password":"`+testPassword+`"}`).problem(http.StatusUnauthorized)

		e.do("POST", fmt.Sprintf("/users/%d/reactivate", bob.ID), "", bearer(e.adminSession)).status(http.StatusOK)
		e.login("bob@example.com")
	})
}

func TestAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		ctx := context.Background()
		secret, tok, err := e.auth.CreateAPIToken(ctx, e.admin, "CRM sync", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		me := e.do("GET", "/me", "", bearer(secret)).status(http.StatusOK).json()
		if me["email"] != "ada@example.com" {
			t.Fatalf("/me with token = %v", me)
		}
		list := e.do("GET", "/tokens", "", bearer(e.adminSession)).status(http.StatusOK).json()
		items, _ := list["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("tokens %v", list)
		}
		if item := items[0].(map[string]any); item["last_used_at"] == nil || item["revoked_at"] != nil || item["name"] != "CRM sync" {
			t.Fatalf("token after use: %v", item)
		}
		if strings.Contains(string(e.do("GET", "/tokens", "", bearer(e.adminSession)).body), secret) {
			t.Fatal("token list shows the secret")
		}

		// An API token cannot mint tokens; a session can, and sees the secret once.
		e.do("POST", "/tokens", `{"name":"Mint"}`, bearer(secret)).problem(http.StatusForbidden)
		r := e.do("POST", "/tokens", `{"name":"Report job","expires_in_days":2}`, bearer(e.adminSession)).status(http.StatusCreated)
		var created CreatedToken
		if err := json.Unmarshal(r.body, &created); err != nil || !auth.IsAPIToken(created.Secret) || created.Token == nil {
			t.Fatalf("created %s (%v)", r.body, err)
		}
		if d := created.Token.ExpiresAt.Sub(created.Token.CreatedAt); d != 48*time.Hour {
			t.Errorf("lifetime %v", d)
		}
		e.do("GET", "/me", "", bearer(created.Secret)).status(http.StatusOK)

		// Revoked: 401 at once.
		e.do("DELETE", fmt.Sprintf("/tokens/%d", tok.ID), "", bearer(e.adminSession)).status(http.StatusNoContent)
		e.do("GET", "/me", "", bearer(secret)).problem(http.StatusUnauthorized)
		e.do("DELETE", fmt.Sprintf("/tokens/%d", tok.ID+1000), "", bearer(e.adminSession)).problem(http.StatusNotFound)

		// Expired: 401.
		db.SetClock(func() time.Time { return time.Now().Add(3 * 24 * time.Hour) })
		e.do("GET", "/me", "", bearer(created.Secret)).problem(http.StatusUnauthorized)

		// Normal users cannot manage tokens.
		db.SetClock(time.Now)
		e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		bob := e.login("bob@example.com")
		e.do("GET", "/tokens", "", bearer(bob)).problem(http.StatusForbidden)
		e.do("POST", "/tokens", `{"name":"Mine"}`, bearer(bob)).problem(http.StatusForbidden)
	})
}

func TestCookieAuthAndLogout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		me := e.do("GET", "/me", "", cookie(e.adminSession)).status(http.StatusOK).json()
		if me["email"] != "ada@example.com" {
			t.Fatalf("/me by cookie = %v", me)
		}
		// A cross-site form post riding on the cookie is refused.
		e.do("POST", "/auth/logout", "", cookie(e.adminSession), header("Sec-Fetch-Site", "cross-site")).problem(http.StatusForbidden)
		e.do("GET", "/me", "", cookie(e.adminSession)).status(http.StatusOK)

		r := e.do("POST", "/auth/logout", "", cookie(e.adminSession), header("Sec-Fetch-Site", "same-origin")).status(http.StatusNoContent)
		if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, auth.CookieName+"=") || !strings.Contains(sc, "Max-Age=0") {
			t.Errorf("Set-Cookie %q does not clear the cookie", sc)
		}
		e.do("GET", "/me", "", cookie(e.adminSession)).problem(http.StatusUnauthorized)
		e.do("GET", "/me", "", bearer(e.adminSession)).problem(http.StatusUnauthorized)

		// Logout of an API session ends that session only.
		a1, a2 := e.login("ada@example.com"), e.login("ada@example.com")
		r = e.do("POST", "/auth/logout", "", bearer(a1)).status(http.StatusNoContent)
		if r.header.Get("Set-Cookie") != "" {
			t.Errorf("bearer logout sets a cookie: %q", r.header.Get("Set-Cookie"))
		}
		e.do("GET", "/me", "", bearer(a1)).problem(http.StatusUnauthorized)
		e.do("GET", "/me", "", bearer(a2)).status(http.StatusOK)

		// No credentials, or the wrong scheme.
		e.do("GET", "/me", "").problem(http.StatusUnauthorized)
		e.do("GET", "/me", "", header("Authorization", "Basic "+a2)).problem(http.StatusUnauthorized)
		e.do("POST", "/auth/logout", "").problem(http.StatusUnauthorized)
	})
}

func TestUsersPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		for i := range 4 {
			e.user("Acme", fmt.Sprintf("User %d", i), fmt.Sprintf("u%d@example.com", i), core.RoleUser)
		}
		e.user("Other", "Olga", "olga@example.com", core.RoleUser)

		r := e.do("GET", "/users?page=1&per_page=2", "", bearer(e.adminSession)).status(http.StatusOK)
		var page UserPage
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if page.Total != 5 || len(page.Items) != 2 || page.Page != 1 || page.PerPage != 2 {
			t.Fatalf("page 1: %s", r.body)
		}
		if link := r.header.Get("Link"); link != `</api/v1/users?page=2&per_page=2>; rel="next"` {
			t.Errorf("Link %q", link)
		}

		r = e.do("GET", "/users?page=3&per_page=2", "", bearer(e.adminSession)).status(http.StatusOK)
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Total != 5 {
			t.Fatalf("page 3: %s", r.body)
		}
		if link := r.header.Get("Link"); strings.Contains(link, `rel="next"`) || !strings.Contains(link, `rel="prev"`) {
			t.Errorf("last page Link %q", link)
		}
		seen := map[string]bool{}
		for p := 1; p <= 3; p++ {
			var pg UserPage
			json.Unmarshal(e.do("GET", fmt.Sprintf("/users?page=%d&per_page=2", p), "", bearer(e.adminSession)).body, &pg)
			for _, u := range pg.Items {
				if seen[u.Email] {
					t.Errorf("%s on two pages", u.Email)
				}
				seen[u.Email] = true
			}
		}
		if len(seen) != 5 || seen["olga@example.com"] {
			t.Errorf("pages show %v", seen)
		}

		// Defaults and bounds.
		def := e.do("GET", "/users", "", bearer(e.adminSession)).status(http.StatusOK).json()
		if def["page"] != 1.0 || def["per_page"] != 50.0 {
			t.Errorf("defaults: %v", def)
		}
		if r := e.do("GET", "/users", "", bearer(e.adminSession)); r.header.Get("Link") != "" {
			t.Errorf("single page has Link %q", r.header.Get("Link"))
		}
		p := e.do("GET", "/users?per_page=201", "", bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Location != "query.per_page" ||
			p.Errors[0].Message != e.msg("en", "api.errors.field_maximum", map[string]any{"Limit": "200"}) {
			t.Errorf("per_page=201: %+v", p)
		}
		e.do("GET", "/users?page=0", "", bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
	})
}

func TestUserVisibility(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		e.user("Acme", "Pat", "pat@example.com", core.RoleUser, core.RightProfileAccess)
		olga := e.user("Other", "Olga", "olga@example.com", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Note = "Prefers email" })
		bobTok, patTok := e.login("bob@example.com"), e.login("pat@example.com")
		path := fmt.Sprintf("/users/%d", bob.ID)

		for name, tok := range map[string]string{"admin": e.adminSession, "profile access": patTok} {
			u := e.do("GET", path, "", bearer(tok)).status(http.StatusOK).json()
			if note, ok := u["note"]; !ok || note != "Prefers email" {
				t.Errorf("%s sees note %v (present %v)", name, note, ok)
			}
			list := e.do("GET", "/users", "", bearer(tok)).status(http.StatusOK).json()
			for _, it := range list["items"].([]any) {
				if _, ok := it.(map[string]any)["note"]; !ok {
					t.Errorf("%s: list item without note: %v", name, it)
				}
			}
		}
		// A normal user sees themselves, without the note key at all.
		for _, p := range []string{"/me", path} {
			r := e.do("GET", p, "", bearer(bobTok)).status(http.StatusOK)
			u := r.json()
			if _, ok := u["note"]; ok || strings.Contains(string(r.body), "Prefers email") {
				t.Errorf("normal user sees the note at %s: %s", p, r.body)
			}
			if u["last_sign_in_at"] == nil {
				t.Errorf("last_sign_in_at null after sign-in: %v", u)
			}
		}
		// Never signed in: null, present.
		neverSigned := e.user("Acme", "Nina", "nina@example.com", core.RoleUser)
		u := e.do("GET", fmt.Sprintf("/users/%d", neverSigned.ID), "", bearer(e.adminSession)).status(http.StatusOK).json()
		if v, ok := u["last_sign_in_at"]; !ok || v != nil {
			t.Errorf("last_sign_in_at = %v (present %v), want null", v, ok)
		}
		if rights, ok := u["rights"].([]any); !ok || len(rights) != 0 {
			t.Errorf("rights = %v, want []", u["rights"])
		}

		// Other workspace and unknown ids: 404 without a difference.
		p1 := e.do("GET", fmt.Sprintf("/users/%d", olga.ID), "", bearer(e.adminSession)).problem(http.StatusNotFound)
		p2 := e.do("GET", "/users/999999", "", bearer(e.adminSession)).problem(http.StatusNotFound)
		if p1.Detail != p2.Detail || len(p1.Errors)+len(p2.Errors) != 0 {
			t.Errorf("foreign %+v differs from unknown %+v", p1, p2)
		}
		// A normal user reading someone else: 403; listing: 403.
		e.do("GET", fmt.Sprintf("/users/%d", e.admin.ID), "", bearer(bobTok)).problem(http.StatusForbidden)
		e.do("GET", "/users", "", bearer(bobTok)).problem(http.StatusForbidden)
		e.do("GET", fmt.Sprintf("/users/%d", olga.ID), "", bearer(bobTok)).problem(http.StatusNotFound)
	})
}

func TestRequestErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: Deps{MaxBodyBytes: 1024}})

		// Malformed JSON: 400, translated, and the body is not echoed.
		r := e.do("POST", "/auth/login", `{"email":"ada@example.com","password":"s3cret-pass`, lang("pt-BR"))
		p := r.problem(http.StatusBadRequest)
		if p.Detail != e.msg("pt-BR", "api.errors.invalid_json", nil) {
			t.Errorf("400 detail %q", p.Detail)
		}
		if strings.Contains(string(r.body), "s3cret") {
			t.Errorf("400 echoes the password: %s", r.body)
		}
		e.do("POST", "/auth/login", "").problem(http.StatusBadRequest)

		// Too large: 413; exactly the limit is read.
		big := `{"email":"ada@example.com","password":"` + strings.Repeat("x", 1100) + `"}`
		p = e.do("POST", "/auth/login", big, lang("tr")).problem(http.StatusRequestEntityTooLarge)
		if p.Detail != e.msg("tr", "errors.body_too_large", nil) {
			t.Errorf("413 detail %q", p.Detail)
		}
		exact := `{"email":"ada@example.com","password":"` + strings.Repeat("y", 1024-len(`{"email":"ada@example.com","password":""}`)) + `"}`
		if len(exact) != 1024 {
			t.Fatalf("exact body is %d bytes", len(exact))
		}
		if r := e.do("POST", "/auth/login", exact); r.code == http.StatusRequestEntityTooLarge {
			t.Errorf("body of exactly the limit refused: %s", r.body)
		}

		// Wrong content type: 415.
		p = e.do("POST", "/auth/login", `{"email":"a@b.c","password":"x"}`, header("Content-Type", "text/plain"), lang("id")).
			problem(http.StatusUnsupportedMediaType)
		if p.Detail != e.msg("id", "errors.unsupported_media_type", nil) {
			t.Errorf("415 detail %q", p.Detail)
		}

		// Schema validation: 422 with field locations, in Accept-Language.
		p = e.do("POST", "/auth/login", `{"email":"ada@example.com","extra":1}`, lang("es")).problem(http.StatusUnprocessableEntity)
		if p.Detail != e.msg("es", "api.errors.validation", nil) {
			t.Errorf("422 detail %q", p.Detail)
		}
		got := map[string]string{}
		for _, fe := range p.Errors {
			got[fe.Location] = fe.Message
			if fe.Value != nil {
				t.Errorf("error echoes a value: %+v", fe)
			}
		}
		if got["body.password"] != e.msg("es", "errors.field.required", nil) ||
			got["body.extra"] != e.msg("es", "api.errors.field_unknown", nil) {
			t.Errorf("422 errors %v", got)
		}
		p = e.do("POST", "/auth/login", `{"email":42,"password":"x"}`).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.email" || p.Errors[0].Message != e.msg("en", "api.errors.field_type", nil) {
			t.Errorf("type error %+v", p.Errors)
		}
		e.do("GET", "/users/abc", "", bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)

		// Domain validation: an invalid email, in the caller's own language
		// (which beats Accept-Language).
		e.update(e.admin, func(u *core.User) { u.Language = "ru" })
		r = e.do("POST", "/invites", `{"email":"not-an-email"}`, bearer(e.adminSession), lang("en"))
		p = r.problem(http.StatusUnprocessableEntity)
		if p.Detail != e.msg("ru", "errors.invalid", nil) || len(p.Errors) != 1 ||
			p.Errors[0].Location != "body.email" || p.Errors[0].Message != e.msg("ru", "errors.field.email_invalid", nil) {
			t.Errorf("invalid email problem %+v", p)
		}
		p = e.do("POST", "/invites", `{"email":"new@example.com","role":"owner"}`, bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.role" || p.Errors[0].Message != e.msg("ru", "api.errors.field_choice", nil) {
			t.Errorf("bad role %+v", p.Errors)
		}
		p = e.do("POST", "/invites", `{"email":"ada@example.com"}`, bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Message != e.msg("ru", "errors.field.email_taken", nil) {
			t.Errorf("taken email %+v", p.Errors)
		}
		p = e.do("POST", "/tokens", `{"name":"   "}`, bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.name" {
			t.Errorf("blank token name %+v", p.Errors)
		}

		// Unknown path 404 and wrong method 405, as problems.
		e.do("GET", "/nope", "").problem(http.StatusNotFound)
		r = e.do("DELETE", "/me", "", bearer(e.adminSession))
		r.problem(http.StatusMethodNotAllowed)
		if allow := r.header.Get("Allow"); allow != "GET, HEAD, PATCH" {
			t.Errorf("Allow %q", allow)
		}
	})
}

func TestAdminActions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		olga := e.user("Other", "Olga", "olga@example.com", core.RoleUser)
		bobTok := e.login("bob@example.com")

		// The last admin cannot be demoted or deactivated: 409, translated.
		p := e.do("PATCH", fmt.Sprintf("/users/%d/access", e.admin.ID), `{"role":"user"}`, bearer(e.adminSession), lang("es")).
			problem(http.StatusConflict)
		if p.Detail != e.msg("en", "errors.last_admin", nil) { // the admin's own language wins
			t.Errorf("409 detail %q", p.Detail)
		}
		e.do("POST", fmt.Sprintf("/users/%d/deactivate", e.admin.ID), "", bearer(e.adminSession)).problem(http.StatusConflict)

		u := e.do("PATCH", fmt.Sprintf("/users/%d/access", bob.ID), `{"role":"user","rights":["profile-access"]}`, bearer(e.adminSession)).
			status(http.StatusOK).json()
		if rights := u["rights"].([]any); len(rights) != 1 || rights[0] != "profile-access" {
			t.Errorf("rights %v", u["rights"])
		}
		// Bob now has profile access and sees notes, but is not an admin.
		if _, ok := e.do("GET", "/me", "", bearer(bobTok)).status(http.StatusOK).json()["note"]; !ok {
			t.Error("profile access: note missing on /me")
		}
		e.do("PATCH", fmt.Sprintf("/users/%d/access", e.admin.ID), `{"role":"user"}`, bearer(bobTok)).problem(http.StatusForbidden)
		e.do("POST", "/invites", `{"email":"x@example.com"}`, bearer(bobTok)).problem(http.StatusForbidden)

		e.do("PATCH", fmt.Sprintf("/users/%d/access", olga.ID), `{"role":"user"}`, bearer(e.adminSession)).problem(http.StatusNotFound)
		e.do("POST", fmt.Sprintf("/users/%d/deactivate", olga.ID), "", bearer(e.adminSession)).problem(http.StatusNotFound)

		r := e.do("POST", "/invites", `{"email":"New.Person@Example.com","rights":["profile-access"]}`, bearer(e.adminSession)).
			status(http.StatusCreated)
		var inv Invite
		if err := json.Unmarshal(r.body, &inv); err != nil || inv.Email != "new.person@example.com" || inv.Role != "user" ||
			!slices.Equal(inv.Rights, []string{"profile-access"}) || !inv.ExpiresAt.After(inv.CreatedAt) {
			t.Fatalf("invite %s (%v)", r.body, err)
		}
		if len(e.mail.sent) != 1 || e.mail.sent[0] != "new.person@example.com" {
			t.Errorf("mails %v", e.mail.sent)
		}
	})
}

func TestRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: Deps{RatePerSecond: 0.01, RateBurst: 2}})
		for range 2 {
			e.do("GET", "/me", "", bearer(e.adminSession)).status(http.StatusOK)
		}
		r := e.do("GET", "/me", "", bearer(e.adminSession))
		p := r.problem(http.StatusTooManyRequests)
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || secs < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		if p.Detail != e.msg("en", "api.errors.rate_limited", map[string]any{"Count": secs}) {
			t.Errorf("429 detail %q", p.Detail)
		}
		// The limit is per caller: another token of another session is fine.
		secret, _, err := e.auth.CreateAPIToken(context.Background(), e.admin, "Other caller", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.do("GET", "/me", "", bearer(secret)).status(http.StatusOK)

		// Anonymous calls share a bucket per client address.
		e.do("GET", "/openapi.json", "").status(http.StatusOK)
		e.do("POST", "/auth/login", `{"email":"ada@example.com","password":"wrong-password-1"}`).problem(http.StatusUnauthorized)
		r = e.do("POST", "/auth/login", `{"email":"ada@example.com","password":"`+testPassword+`"}`)
		r.problem(http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After on anonymous 429")
		}
	})
}

func TestOpenAPIDocument(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		r := e.do("GET", "/openapi.json", "").status(http.StatusOK)
		var doc struct {
			OpenAPI    string `json:"openapi"`
			Paths      map[string]map[string]json.RawMessage
			Components struct {
				SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
			}
		}
		if err := json.Unmarshal(r.body, &doc); err != nil {
			t.Fatalf("openapi.json: %v", err)
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
			t.Errorf("openapi %q", doc.OpenAPI)
		}
		if s := doc.Components.SecuritySchemes; s["bearer"]["scheme"] != "bearer" || s["cookie"]["name"] != auth.CookieName {
			t.Errorf("security schemes %v", s)
		}

		// Every route mounted on the mux is documented in the served document.
		if len(e.api.routes) < 14 {
			t.Fatalf("only %d routes", len(e.api.routes))
		}
		for _, rt := range e.api.routes {
			pattern := rt.pattern()
			if slices.Contains(specVariants, pattern) {
				continue // described by the openapi.json operation
			}
			method, path, _ := strings.Cut(pattern, " ")
			if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
				t.Errorf("route %s is not in openapi.json", pattern)
			}
		}
		for _, v := range specVariants {
			_, path, _ := strings.Cut(v, " ")
			e.do("GET", strings.TrimPrefix(path, Prefix), "").status(http.StatusOK)
		}
		// And each documented operation is served.
		served := map[string]bool{}
		for _, rt := range e.api.routes {
			served[rt.pattern()] = true
		}
		for path, item := range e.api.OpenAPI().Paths {
			for method, op := range map[string]bool{"GET": item.Get != nil, "POST": item.Post != nil, "PATCH": item.Patch != nil,
				"DELETE": item.Delete != nil, "PUT": item.Put != nil} {
				if op && !served[method+" "+path] {
					t.Errorf("documented %s %s is not served", method, path)
				}
			}
		}
		// Login documents the room left for two-step verification.
		login := e.api.OpenAPI().Paths[Prefix+"/auth/login"].Post
		if login == nil || len(login.Security) != 0 {
			t.Fatal("login must be anonymous")
		}
		if !strings.Contains(string(r.body), "second_factor_required") {
			t.Error("document does not mention second_factor_required")
		}
		if me := e.api.OpenAPI().Paths[Prefix+"/me"].Get; len(me.Security) != 2 {
			t.Errorf("/me security %v", me.Security)
		}
		e.do("GET", "/docs", "").problem(http.StatusNotFound)
	})
}

// specVariants are routes huma adds for other formats of the document;
// documentSpecRoute describes them.
var specVariants = []string{
	"GET " + Prefix + "/openapi-3.0.json",
	"GET " + Prefix + "/openapi.yaml",
	"GET " + Prefix + "/openapi-3.0.yaml",
}

func TestTokenDefaultLifetime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{})
		r := e.do("POST", "/tokens", `{"name":"No expiry given"}`, bearer(e.adminSession)).status(http.StatusCreated)
		var created CreatedToken
		if err := json.Unmarshal(r.body, &created); err != nil || created.Token == nil {
			t.Fatalf("created %s (%v)", r.body, err)
		}
		if d := created.Token.ExpiresAt.Sub(created.Token.CreatedAt); d != 365*24*time.Hour {
			t.Errorf("default lifetime %v, want 365 days", d)
		}
		e.do("POST", "/tokens", `{"name":"Zero","expires_in_days":0}`, bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
	})
}

// TestNewNeedsEveryService: the API serves every route, so it refuses to
// be built without any one of the services its routes use.
func TestNewNeedsEveryService(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	set := servicetest.New(t, services.Config{DB: db, Mail: &fakeMail{}})
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	full := func() Deps {
		return Deps{Accounts: set.Accounts, Auth: set.Auth, Profiles: set.Profiles, Security: set.Security, Notify: set.Notify,
			Live: live.NewHub(), I18n: bundle, Devices: set.Devices, Push: set.Push}
	}
	if a, err := New(full()); err != nil || a == nil {
		t.Fatalf("New with every service: %v, %v", a, err)
	}
	for name, drop := range map[string]func(*Deps){
		"Accounts": func(d *Deps) { d.Accounts = nil },
		"Auth":     func(d *Deps) { d.Auth = nil },
		"Profiles": func(d *Deps) { d.Profiles = nil },
		"Security": func(d *Deps) { d.Security = nil },
		"Notify":   func(d *Deps) { d.Notify = nil },
		"Live":     func(d *Deps) { d.Live = nil },
		"I18n":     func(d *Deps) { d.I18n = nil },
		"Devices":  func(d *Deps) { d.Devices = nil },
		"Push":     func(d *Deps) { d.Push = nil },
	} {
		d := full()
		drop(&d)
		if a, err := New(d); err == nil || a != nil {
			t.Errorf("New without %s: %v, %v; want an error", name, a, err)
		}
	}
}
