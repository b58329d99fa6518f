package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// formBlock returns the first form posting to action, from its opening tag
// to its end ("" when the page has none).
func formBlock(body, action string) string {
	i := strings.Index(body, `action="`+action+`"`)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(body[:i], "<form")
	end := strings.Index(body[i:], "</form>")
	if start < 0 || end < 0 {
		return ""
	}
	return body[start : i+end+len("</form>")]
}

// openTag is the opening tag at the start of block.
func openTag(block string) string {
	if i := strings.IndexByte(block, '>'); i >= 0 {
		return block[:i+1]
	}
	return block
}

var confirmFormRE = regexp.MustCompile(`<form[^>]*data-confirm="[^"]*"[^>]*>`)

// TestDialogAndToastMarkup: every signed-in page carries the one
// confirmation dialog (translated title, Cancel and Confirm) and the toast
// region app.js fills; every form[data-confirm] names its confirm button.
func TestDialogAndToastMarkup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		admin := e.login("ada@acme.test")
		e.login("ada@acme.test") // a second session: "sign out the others" shows
		wantStatus(t, e.post("/settings/users/invite", admin, url.Values{"email": {"cy@acme.test"}, "role": {"user"}}), http.StatusSeeOther)
		wantStatus(t, e.post("/settings/tokens", admin, url.Values{"name": {"CRM"}, "expires": {"30d"}}), http.StatusOK)

		for _, lang := range []string{"en", "ru"} {
			e.update(ada, func(u *core.User) { u.Language = lang })
			want := map[string][]string{
				"en": {`<h2 class="dialog-title" id="confirm-title">Confirm action</h2>`, `value="cancel" class="btn btn-secondary" autofocus>Cancel</button>`, `data-label="Confirm">Confirm</button>`, `aria-label="Messages"`, `aria-label="Dismiss"`},
				"ru": {`>Подтвердите действие</h2>`, `autofocus>Отмена</button>`, `data-label="Подтвердить">Подтвердить</button>`, `aria-label="Сообщения"`, `aria-label="Закрыть"`},
			}[lang]
			confirms := 0
			for _, page := range []string{"/settings/profile", "/settings/security", "/settings/users", "/settings/tokens", fmt.Sprintf("/settings/users/%d", bob.ID)} {
				w := e.get(page, admin)
				wantStatus(t, w, http.StatusOK)
				wantContains(t, w, append(want, `<dialog class="dialog" id="confirm-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">`,
					`<form method="dialog"`, `<div class="toasts" id="toasts" role="status" aria-live="polite"`, `<template id="toast-template">`)...)
				for _, tag := range confirmFormRE.FindAllString(w.Body.String(), -1) {
					confirms++
					if !strings.Contains(tag, `data-confirm-button="`) || strings.Contains(tag, `data-confirm-button=""`) {
						t.Errorf("%s %s: %s names no confirm button", lang, page, tag)
					}
				}
			}
			// Revoke others, an invitation, deactivate Bob, a token, reset
			// Bob's password and two-step verification.
			if confirms < 6 {
				t.Errorf("%s: %d forms with data-confirm, want at least 6", lang, confirms)
			}
		}
	})
}

// TestPhotoPickerMarkup: the photo form still works without script (a
// multipart POST with the file input and an Upload button inside it),
// the input is labelled by the translated "Choose photo…" button, and the
// preview (Save, Cancel, progress) is there for app.js, hidden.
func TestPhotoPickerMarkup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		for lang, choose := range map[string]string{"en": "Choose photo…", "es": "Elegir foto…", "tr": "Fotoğraf seç…"} {
			e.update(ada, func(u *core.User) { u.Language = lang })
			w := e.get("/settings/profile", admin)
			wantStatus(t, w, http.StatusOK)
			body := w.Body.String()
			form := formBlock(body, "/settings/profile/photo")
			tag := openTag(form)
			if !strings.Contains(tag, `method="post"`) || !strings.Contains(tag, `enctype="multipart/form-data"`) || !strings.Contains(tag, "data-photo-form") {
				t.Fatalf("%s: photo form %q", lang, tag)
			}
			for _, want := range []string{`<input id="photo-file" class="photo-input visually-hidden" type="file" name="photo" accept="image/*" required`,
				`<label for="photo-file" class="btn btn-secondary btn-sm photo-choose">`, "<span>" + choose + "</span>", `<button type="submit"`} {
				if !strings.Contains(form, want) {
					t.Errorf("%s: photo form lacks %q:\n%s", lang, want, form)
				}
			}
			for _, want := range []string{`id="photo" data-photo-drop>`, `<div class="photo-preview" data-photo-preview hidden>`, `data-photo-save>`, `data-photo-cancel>`,
				`<progress max="100" value="0" aria-label=`} {
				if !strings.Contains(body, want) {
					t.Errorf("%s: profile page lacks %q", lang, want)
				}
			}
		}
	})
}

// TestEnhancedForms: the forms app.js sends in the background are marked
// data-enhance; those whose answer must be seen from the top (the backup
// codes, a new token's secret, a QR code) are not.
func TestEnhancedForms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		admin := e.login("ada@acme.test")
		e.login("ada@acme.test")
		wantStatus(t, e.post("/settings/profile/email", admin, url.Values{"email": {"ada.new@acme.test"}}), http.StatusSeeOther)
		cases := []struct {
			page, action string
			enhanced     bool
		}{
			{"/settings/profile", "/settings/profile", true},
			{"/settings/profile", "/settings/profile/email", true},
			{"/settings/profile", "/settings/profile/email/cancel", true},
			{"/settings/profile", "/settings/profile/password", true},
			{"/settings/profile", "/settings/profile/photo", false}, // app.js uploads it itself
			{fmt.Sprintf("/settings/users/%d", bob.ID), fmt.Sprintf("/settings/users/%d/password-reset", bob.ID), true},
			{"/settings/security", "/settings/security/sessions/revoke-others", true},
			{"/settings/security", "/settings/security/totp", false},
			{"/settings/security", "/settings/security/email", false},
			{"/settings/users", "/settings/users/invite", true},
			{"/settings/users", fmt.Sprintf("/settings/users/%d/deactivate", bob.ID), true},
			{"/settings/users", fmt.Sprintf("/settings/users/%d/access", bob.ID), true},
			{"/settings/workspace-security", "/settings/workspace-security/allowlist", true},
			{"/settings/tokens", "/settings/tokens", false},
		}
		for _, c := range cases {
			w := e.get(c.page, admin)
			wantStatus(t, w, http.StatusOK)
			form := formBlock(w.Body.String(), c.action)
			if form == "" {
				t.Errorf("%s: no form posting to %s", c.page, c.action)
				continue
			}
			if got := strings.Contains(openTag(form), " data-enhance"); got != c.enhanced {
				t.Errorf("%s: form %s data-enhance %v, want %v", c.page, openTag(form), got, c.enhanced)
			}
		}
	})
}

var (
	methodCardRE = regexp.MustCompile(`(?s)<article class="method-card" id="([a-z-]+)" aria-labelledby="([a-z-]+)">(.*?)</article>`)
	codeLabelRE  = regexp.MustCompile(`<label for="([a-z-]*code)">([^<]*)</label>`)
)

// TestSecurityMethodCards: the Security page shows the authenticator app,
// email codes and backup codes as one card each, with an icon, a heading,
// a line about it and (for the two methods) its on/off state; each code
// field's label says which code it wants, so no two purposes share a
// label and none is the vague "Verification code".
func TestSecurityMethodCards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		c := e.login("ada@acme.test")

		cards := func(state string) map[string]string {
			t.Helper()
			w := e.get("/settings/security", c)
			wantStatus(t, w, http.StatusOK)
			body := w.Body.String()
			if strings.Contains(body, ">Verification code<") {
				t.Errorf("%s: a field is labelled only %q", state, "Verification code")
			}
			got := map[string]string{}
			var order []string
			for _, m := range methodCardRE.FindAllStringSubmatch(body, -1) {
				got[m[1]] = m[3]
				order = append(order, m[1])
				if !strings.Contains(m[3], `<h3 class="method-title" id="`+m[2]+`">`) || !strings.Contains(m[3], `<span class="method-icon"><svg class="icon"`) ||
					!strings.Contains(m[3], `<p class="method-desc">`) {
					t.Errorf("%s: card %s lacks its heading, icon or description", state, m[1])
				}
			}
			if strings.Join(order, " ") != "totp email-codes backup" {
				t.Fatalf("%s: method cards %q, want totp, email-codes, backup", state, order)
			}
			return got
		}
		labels := func(state, card string) map[string]string {
			out := map[string]string{}
			for _, m := range codeLabelRE.FindAllStringSubmatch(card, -1) {
				out[m[1]] = m[2]
			}
			return out
		}

		// Nothing on: the app and email cards offer to turn them on.
		cs := cards("off")
		if !strings.Contains(cs["totp"], "Off</span>") || !strings.Contains(cs["email-codes"], "Off</span>") || !strings.Contains(cs["backup"], "Available once a method is on.") {
			t.Errorf("off: states wrong:\n%v", cs)
		}

		// A pending app set-up and pending email codes, on one page: the
		// app's code and the email's code have their own labels.
		wantStatus(t, e.post("/settings/security/totp", c, url.Values{"password": {password}}), http.StatusOK)
		wantStatus(t, e.post("/settings/security/email", c, url.Values{"password": {password}}), http.StatusOK)
		cs = cards("pending")
		if !strings.Contains(cs["totp"], `id="totp-code"`) || !strings.Contains(cs["totp"], `action="/settings/security/totp/cancel"`) ||
			!strings.Contains(cs["email-codes"], `id="email-pending"`) || !strings.Contains(cs["email-codes"], `action="/settings/security/email/cancel"`) {
			t.Errorf("pending: set-ups not in their cards")
		}
		app, mail := labels("pending", cs["totp"]), labels("pending", cs["email-codes"])
		if app["totp-code"] != "Code from the app" || mail["email-code"] != "Code from the email" {
			t.Errorf("pending: code labels %q and %q", app, mail)
		}

		// The app on (the email set-up still pending): turning it off is in
		// the app's card behind "Turn off…", asking for the current code;
		// new backup codes in the backup card; every re-authentication code
		// is "Current two-step code", distinct from the email's code.
		e.post("/settings/security/email/cancel", c, nil)
		key := e.enableTOTP(c, *now)
		*now = now.Add(30 * time.Second) // the next code: the last one was used
		wantStatus(t, e.post("/settings/security/email", c, url.Values{"password": {password}, "code": {oathtool(t, key, *now)}}), http.StatusOK)
		cs = cards("app on")
		if !strings.Contains(cs["totp"], `<span class="status status-on"><svg class="icon"`) || !strings.Contains(cs["totp"], `<details class="method-action">`) ||
			!strings.Contains(cs["totp"], `<summary>Turn off…</summary>`) || !strings.Contains(cs["totp"], `action="/settings/security/totp/disable"`) {
			t.Errorf("app on: app card:\n%s", cs["totp"])
		}
		if !strings.Contains(cs["backup"], "backup codes left.") || !strings.Contains(cs["backup"], `<summary>Create new codes…</summary>`) || !strings.Contains(cs["backup"], `action="/settings/security/backup-codes"`) {
			t.Errorf("app on: backup card:\n%s", cs["backup"])
		}
		got := map[string]string{}
		for _, card := range cs {
			for id, l := range labels("app on", card) {
				got[id] = l
			}
		}
		want := map[string]string{"disable-totp-code": "Current two-step code", "backup-code": "Current two-step code", "email-code": "Code from the email"}
		for id, l := range want {
			if got[id] != l {
				t.Errorf("app on: label of %s %q, want %q (all: %q)", id, got[id], l, got)
			}
		}
		// A refused turn-off opens its disclosure.
		w := e.post("/settings/security/totp/disable", c, url.Values{"password": {"wrong"}, "code": {"000000"}})
		if !strings.Contains(w.Body.String(), `<details class="method-action" open>`) {
			t.Errorf("a refused turn-off does not open its disclosure")
		}
	})
}
