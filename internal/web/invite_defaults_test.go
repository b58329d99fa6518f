package web

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"roster/internal/store"
	"roster/internal/store/storetest"
)

// The invitation page is shown in the invitee's language and its Language
// field starts on that language; its time zone starts on the workspace's,
// marked for the page's script to pick the browser's.
func TestInvitePageDefaultsToInviteesLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en") // workspace in English, zone Europe/Madrid
		admin := e.login("ada@acme.test")
		_, path := e.invite(admin, "irina@acme.test")

		w := e.do(req{method: "GET", path: path, header: map[string]string{"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}})
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `<html lang="ru">`, `<option value="ru" selected>Русский</option>`,
			`<select id="timezone" name="timezone" data-browser-timezone>`, `<option value="Europe/Madrid" selected>Europe/Madrid</option>`)
		wantNotContains(t, w, `<option value="en" selected>`)

		// Without a language the browser prefers, the workspace's.
		w = e.get(path, "")
		wantContains(t, w, `<html lang="en">`, `<option value="en" selected>English</option>`)

		// A refused form keeps the zone chosen, and the script leaves it.
		w = e.do(req{method: "POST", path: path, header: map[string]string{"Accept-Language": "ru"},
			form: url.Values{"name": {"Ирина"}, "password": {password}, "language": {"ru"}, "timezone": {"Mars/Base"}}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Выберите корректный часовой пояс.", `<option value="Mars/Base" selected>Mars/Base</option>`, `aria-invalid="true"`)
		wantNotContains(t, w, "data-browser-timezone")

		w = e.post(path, "", url.Values{"name": {"Ирина"}, "password": {password}, "language": {"ru"}, "timezone": {"Asia/Jakarta"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile")
		u, err := db.Reader().UserByEmail(context.Background(), "irina@acme.test")
		if err != nil || u.Language != "ru" || u.Timezone != "Asia/Jakarta" {
			t.Fatalf("invitee %+v (%v)", u, err)
		}

		// Without a zone posted (an older form), the workspace's.
		_, path = e.invite(admin, "bo@acme.test")
		wantRedirect(t, e.post(path, "", url.Values{"name": {"Bo"}, "password": {password}}), http.StatusSeeOther, "/settings/profile")
		if u, _ := db.Reader().UserByEmail(context.Background(), "bo@acme.test"); u == nil || u.Timezone != "Europe/Madrid" {
			t.Fatalf("invitee without a zone: %+v", u)
		}
	})
}

// The setup page's zone starts on UTC, marked for the browser's zone; a
// refused form keeps the zone typed.
func TestSetupPageZoneDefault(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		w := e.get("/setup", "")
		wantContains(t, w, `<select id="timezone" name="timezone" data-browser-timezone>`, `<option value="UTC" selected>UTC</option>`)
		w = e.post("/setup", "", url.Values{"workspace": {"Acme"}, "timezone": {"Asia/Jakarta"}, "language": {"en"}, "name": {""},
			"email": {"ada@acme.test"}, "password": {password}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, `<option value="Asia/Jakarta" selected>Asia/Jakarta</option>`)
		wantNotContains(t, w, "data-browser-timezone")
	})
}
