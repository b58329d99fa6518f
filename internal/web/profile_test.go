package web

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image"
	"image/color"
	_ "image/jpeg" // for jpegSize
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/photo"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// find returns the last queued mail built from template, or fails.
func (q *fakeQueue) find(t testing.TB, template string) queued {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := len(q.mails) - 1; i >= 0; i-- {
		if q.mails[i].Template == template {
			return q.mails[i]
		}
	}
	t.Fatalf("no %q mail was queued", template)
	return queued{}
}

// linkPath returns the path of the Link in a queued mail.
func linkPath(t *testing.T, m queued) string {
	t.Helper()
	link, _ := m.Data["Link"].(string)
	if !strings.HasPrefix(link, "http://roster.test/") {
		t.Fatalf("mail %s has link %q", m.Template, link)
	}
	return strings.TrimPrefix(link, "http://roster.test")
}

// user reads a user from the database.
func (e *env) user(id int64) *core.User {
	e.t.Helper()
	u, err := e.db.Reader().User(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// upload posts data as the multipart field "photo" named filename.
func (e *env) upload(path, cookie, filename string, data []byte) *httptest.ResponseRecorder {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("photo", filename)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	hr := httptest.NewRequest("POST", path, &buf)
	hr.Header.Set("Content-Type", mw.FormDataContentType())
	hr.AddCookie(&http.Cookie{Name: auth.CookieName, Value: cookie})
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, hr)
	return w
}

// testPNG returns a small, valid, non-square PNG.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 90, 60))
	for y := range 60 {
		for x := range 90 {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 3), 120, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var fieldErrorRE = regexp.MustCompile(`<p class="field-error">([^<]*)</p>`)

// fieldErrors returns the per-field messages of a page, unescaped.
func fieldErrors(body string) []string {
	var out []string
	for _, m := range fieldErrorRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func profileForm(name, phone, lang, tz string) url.Values {
	return url.Values{"name": {name}, "phone": {phone}, "language": {lang}, "timezone": {tz}}
}

func TestProfileSave(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")

		w := e.get("/settings/profile", admin)
		wantStatus(t, w, http.StatusOK)
		checkNoInline(t, "profile", w.Body.String())
		wantContains(t, w, `<form method="post" action="/settings/profile" class="form form-grid" novalidate data-enhance>`,
			`<option value="es">Español</option>`, `<option value="Europe/Madrid" selected>`, `name="note"`, ">Save</button>")

		// A valid save applies at once and says so.
		w = e.post("/settings/profile", admin, profileForm("Ada Lovelace", "+44 20 7946 0958", "en", "Asia/Tokyo"))
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=saved")
		u := e.user(ada.ID)
		if u.Name != "Ada Lovelace" || u.Phone != "+442079460958" || u.Timezone != "Asia/Tokyo" {
			t.Fatalf("saved user %q %q %q", u.Name, u.Phone, u.Timezone)
		}
		w = e.get("/settings/profile?done=saved", admin)
		wantContains(t, w, "Profile saved.", `value="Ada Lovelace"`, `value="+44 20 7946 0958"`, `<option value="Asia/Tokyo" selected>`)

		// An invalid save changes nothing, names each bad field and keeps
		// what was typed.
		w = e.post("/settings/profile", admin, profileForm("", "12", "es", "Europe/Paris"))
		wantStatus(t, w, http.StatusUnprocessableEntity)
		if got := alertText(w.Body.String()); got != "Please correct the highlighted fields." {
			t.Errorf("main message %q", got)
		}
		errs := fieldErrors(w.Body.String())
		if len(errs) != 2 || !strings.HasPrefix(errs[0], "Enter a name of 1 to 50 characters") || !strings.HasPrefix(errs[1], "Enter a valid phone number") {
			t.Errorf("field errors %q", errs)
		}
		wantContains(t, w, `<input id="name" name="name" type="text" maxlength="50" autocomplete="name" value="" aria-invalid="true">`,
			`value="12"`, `<option value="es" selected>`, `<option value="Europe/Paris" selected>`, `<html lang="en">`)
		if got := e.user(ada.ID); got.Name != "Ada Lovelace" || got.Phone != "+442079460958" || got.Language != "en" || got.Timezone != "Asia/Tokyo" {
			t.Errorf("refused save changed the user: %+v", got)
		}

		// An empty phone clears the number; a form without a field leaves it.
		wantRedirect(t, e.post("/settings/profile", admin, url.Values{"phone": {""}}), http.StatusSeeOther, "/settings/profile?done=saved")
		if got := e.user(ada.ID); got.Phone != "" || got.Name != "Ada Lovelace" {
			t.Errorf("after clearing the phone: %q %q", got.Phone, got.Name)
		}
	})
}

func TestProfilePhoneNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("es") // a Spanish workspace: numbers without a country code are Spanish
		admin := e.login("ada@acme.test")
		for _, c := range []struct{ typed, stored, shown string }{
			{"612 34 56 78", "+34612345678", "+34 612 34 56 78"},
			{"+1 415 555 2671", "+14155552671", "+1 415-555-2671"},
			{"+55 11 96123-4567", "+5511961234567", "+55 11 96123-4567"},
			{"+62 812-3456-789", "+628123456789", "+62 812-3456-789"},
		} {
			w := e.post("/settings/profile", admin, url.Values{"phone": {c.typed}})
			wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=saved")
			if got := e.user(ada.ID).Phone; got != c.stored {
				t.Errorf("%q stored as %q, want %q", c.typed, got, c.stored)
			}
			wantContains(t, e.get("/settings/profile", admin), `value="`+c.shown+`"`)
		}
		for _, bad := range []string{"555", "+34 12", "call me maybe"} {
			w := e.post("/settings/profile", admin, url.Values{"phone": {bad}})
			wantStatus(t, w, http.StatusUnprocessableEntity)
			wantContains(t, w, "Introduce un número de teléfono válido")
			if got := e.user(ada.ID).Phone; got != "+628123456789" {
				t.Errorf("refused %q changed the phone to %q", bad, got)
			}
		}
	})
}

func TestProfileLanguageChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobC := e.login("bob@acme.test")

		w := e.post("/settings/profile", bobC, profileForm("Bob Builder", "", "ru", "Europe/Moscow"))
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=saved")
		w = e.get("/settings/profile?done=saved", bobC)
		wantContains(t, w, `<html lang="ru">`, "Профиль сохранён.", "Сохранить", "Часовой пояс")

		// An admin saving someone else's profile comes back to that page,
		// in the admin's own language.
		w = e.post(fmt.Sprintf("/settings/users/%d", bob.ID), admin, profileForm("Bob B.", "", "tr", "Europe/Istanbul"))
		wantRedirect(t, w, http.StatusSeeOther, fmt.Sprintf("/settings/users/%d?done=saved", bob.ID))
		w = e.get(fmt.Sprintf("/settings/users/%d?done=saved", bob.ID), admin)
		wantContains(t, w, `<html lang="en">`, "Profile saved.", `value="Bob B."`, `<option value="tr" selected>Türkçe</option>`)
		wantContains(t, e.get("/settings/profile", bobC), `<html lang="tr">`)
	})
}

func TestProfileNoteRights(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Note = "Secret remark" })
		cleo := e.createUser("Acme", "Cleo Clerk", "cleo@acme.test", core.RoleUser, core.RightProfileAccess)
		bobC, cleoC := e.login("bob@acme.test"), e.login("cleo@acme.test")

		w := e.get("/settings/profile", bobC)
		wantNotContains(t, w, `name="note"`, "Secret remark")
		wantContains(t, e.get("/settings/profile", admin), `<textarea id="note" name="note"`)

		// Profile access reads the note about themselves but may not write
		// it: no field in the form, and a forged one is refused.
		e.update(cleo, func(u *core.User) { u.Note = "Reliable" })
		w = e.get("/settings/profile", cleoC)
		wantContains(t, w, `<textarea id="note" rows="4" readonly`, "Reliable", "This note is about you. Only an admin can change it.")
		wantNotContains(t, w, `name="note"`)
		f := profileForm("Cleo", "", "en", "UTC")
		f.Set("note", "Brilliant")
		wantStatus(t, e.post("/settings/profile", cleoC, f), http.StatusForbidden)
		wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d", cleo.ID), cleoC, f), http.StatusForbidden)
		if u := e.user(cleo.ID); u.Note != "Reliable" || u.Name != "Cleo Clerk" {
			t.Errorf("refused save changed %q %q", u.Name, u.Note)
		}

		// Writing the note without the right is refused, with nothing saved.
		f = profileForm("Bobby", "", "en", "UTC")
		f.Set("note", "I am great")
		w = e.post("/settings/profile", bobC, f)
		wantStatus(t, w, http.StatusForbidden)
		wantContains(t, w, "You do not have permission to do that.")
		if u := e.user(bob.ID); u.Note != "Secret remark" || u.Name != "Bob Builder" {
			t.Errorf("refused save changed %q %q", u.Name, u.Note)
		}

		// Profile access edits it on another user's page; an overlong note
		// is a field error.
		w = e.get(fmt.Sprintf("/settings/users/%d", bob.ID), cleoC)
		wantContains(t, w, "Secret remark", fmt.Sprintf(`action="/settings/users/%d"`, bob.ID))
		wantNotContains(t, w, `name="current_password"`, "Send password reset link", "Activity")
		w = e.post(fmt.Sprintf("/settings/users/%d", bob.ID), cleoC, url.Values{"note": {strings.Repeat("x", 2001)}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Must be at most 2000 characters.")
		w = e.post(fmt.Sprintf("/settings/users/%d", bob.ID), cleoC, url.Values{"note": {"Met at the fair"}})
		wantRedirect(t, w, http.StatusSeeOther, fmt.Sprintf("/settings/users/%d?done=saved", bob.ID))
		if u := e.user(bob.ID); u.Note != "Met at the fair" {
			t.Errorf("note %q", u.Note)
		}
	})
}

func TestProfileAccessAcrossUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobC := e.login("bob@acme.test")
		olga := e.createUser("Other Co", "Olga Other", "olga@other.test", core.RoleAdmin)

		// A normal user cannot open or change anyone else.
		wantStatus(t, e.get(fmt.Sprintf("/settings/users/%d", ada.ID), bobC), http.StatusForbidden)
		wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d", ada.ID), bobC, url.Values{"name": {"Hacked"}}), http.StatusForbidden)
		wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d/email", ada.ID), bobC, url.Values{"email": {"x@acme.test"}}), http.StatusForbidden)
		wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d/password-reset", ada.ID), bobC, nil), http.StatusForbidden)
		if e.user(ada.ID).Name != "Ada Admin" {
			t.Error("a normal user renamed the admin")
		}

		// Another workspace does not exist for an admin.
		for _, p := range []string{"", "/photo/delete", "/email", "/email/cancel", "/password-reset"} {
			wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d%s", olga.ID, p), admin, url.Values{"name": {"X"}, "email": {"x@acme.test"}}), http.StatusNotFound)
		}
		wantStatus(t, e.get(fmt.Sprintf("/settings/users/%d", olga.ID), admin), http.StatusNotFound)
		if e.user(olga.ID).Name != "Olga Other" {
			t.Error("foreign user changed")
		}

		// Your own id under Users is your profile page.
		wantRedirect(t, e.get(fmt.Sprintf("/settings/users/%d?done=saved", bob.ID), bobC), http.StatusFound, "/settings/profile?done=saved")

		// The users list links to each profile.
		wantContains(t, e.get("/settings/users", admin), fmt.Sprintf(`href="/settings/users/%d"`, bob.ID))
		w := e.get(fmt.Sprintf("/settings/users/%d", bob.ID), admin)
		// Bob's sign-in is his only activity.
		wantContains(t, w, "Send password reset link", "Activity", "Signed in")
		wantNotContains(t, w, `name="current_password"`)
		checkNoInline(t, "user profile", w.Body.String())
	})
}

var confirmPathRE = regexp.MustCompile(`^/email/confirm/[A-Za-z0-9_-]+$`)

func TestEmailChangeFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobC := e.login("bob@acme.test")

		w := e.post("/settings/profile/email", bobC, url.Values{"email": {"nope"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter a valid email address.", `value="nope"`)
		// Another account's address is answered like a free one; its owner gets nothing.
		w = e.post("/settings/profile/email", bobC, url.Values{"email": {"ada@acme.test"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=email_sent")
		e.queue.mu.Lock()
		for _, m := range e.queue.mails {
			if m.To == "ada@acme.test" && m.Template == "email_confirm" {
				t.Error("the owner of a taken address got a confirmation mail")
			}
		}
		e.queue.mu.Unlock()

		w = e.post("/settings/profile/email", bobC, url.Values{"email": {"Robert@Builder.test"}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=email_sent")
		w = e.get("/settings/profile?done=email_sent", bobC)
		wantContains(t, w, "We sent a confirmation link to robert@builder.test.", "Waiting for confirmation: robert@builder.test",
			`action="/settings/profile/email/cancel"`, "bob@acme.test")
		if e.user(bob.ID).Email != "bob@acme.test" {
			t.Fatal("the address changed before confirmation")
		}
		m := e.queue.find(t, "email_confirm")
		if m.To != "robert@builder.test" {
			t.Fatalf("confirmation went to %s", m.To)
		}
		path := linkPath(t, m)
		if !confirmPathRE.MatchString(path) {
			t.Fatalf("confirm link %q", path)
		}

		// Opening the link applies the change, once.
		w = e.get(path, "")
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Your email address is now robert@builder.test.", `href="/login"`)
		checkNoInline(t, "email confirmed", w.Body.String())
		if got := e.user(bob.ID).Email; got != "robert@builder.test" {
			t.Fatalf("email %q after confirmation", got)
		}
		w = e.get(path, "")
		wantStatus(t, w, http.StatusNotFound)
		wantContains(t, w, "This link is invalid, expired or already used.")
		w = e.get("/settings/profile", bobC)
		wantNotContains(t, w, "Waiting for confirmation")
		wantContains(t, w, "robert@builder.test")

		// The old address got a link that puts it back: the page asks first
		// (opening the link changes nothing), the button signs Bob out
		// everywhere, and the link works once.
		undo := e.queue.find(t, "email_changed")
		if undo.To != "bob@acme.test" {
			t.Fatalf("undo notice went to %s", undo.To)
		}
		undoPath := linkPath(t, undo)
		w = e.get(undoPath, "")
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `action="`+undoPath+`"`, "Put my address back and sign out everywhere")
		checkNoInline(t, "email undo", w.Body.String())
		if got := e.user(bob.ID).Email; got != "robert@builder.test" {
			t.Fatalf("opening the undo link changed the address to %q", got)
		}
		w = e.post(undoPath, "", nil)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Your email address is bob@acme.test again")
		if got := e.user(bob.ID).Email; got != "bob@acme.test" {
			t.Fatalf("email %q after undo", got)
		}
		if w := e.get("/settings/profile", bobC); w.Code == http.StatusOK {
			t.Fatal("Bob's session survived the undo")
		}
		wantStatus(t, e.post(undoPath, "", nil), http.StatusNotFound)
		wantStatus(t, e.get(undoPath, ""), http.StatusNotFound)
		bobC = e.login("bob@acme.test")
		wantRedirect(t, e.post("/settings/profile/email", bobC, url.Values{"email": {"Robert@Builder.test"}}), http.StatusSeeOther, "/settings/profile?done=email_sent")
		wantStatus(t, e.get(linkPath(t, e.queue.find(t, "email_confirm")), ""), http.StatusOK)

		// A pending change can be cancelled; its link then stops working.
		wantRedirect(t, e.post("/settings/profile/email", bobC, url.Values{"email": {"bob2@acme.test"}}), http.StatusSeeOther, "/settings/profile?done=email_sent")
		path = linkPath(t, e.queue.find(t, "email_confirm"))
		wantRedirect(t, e.post("/settings/profile/email/cancel", bobC, nil), http.StatusSeeOther, "/settings/profile?done=email_cancelled")
		wantContains(t, e.get("/settings/profile?done=email_cancelled", bobC), "Email change cancelled.")
		wantNotContains(t, e.get("/settings/profile", bobC), "Waiting for confirmation")
		wantStatus(t, e.get(path, ""), http.StatusNotFound)
		// Cancelling again is harmless.
		wantRedirect(t, e.post("/settings/profile/email/cancel", bobC, nil), http.StatusSeeOther, "/settings/profile?done=email_cancelled")

		// An admin starts a change for Bob from his page.
		w = e.post(fmt.Sprintf("/settings/users/%d/email", bob.ID), admin, url.Values{"email": {"bob3@acme.test"}})
		wantRedirect(t, w, http.StatusSeeOther, fmt.Sprintf("/settings/users/%d?done=email_sent", bob.ID))
		path = linkPath(t, e.queue.find(t, "email_confirm"))

		// With two-step verification on, the field is disabled, a request
		// is refused with 409, and so is an earlier link.
		e.update(bob, func(u *core.User) { u.TwoFactorEnabled = true })
		w = e.get("/settings/profile", bobC)
		wantContains(t, w, `name="email" type="email" autocomplete="email" value="" disabled`, "Turn off two-step verification to change your email.")
		w = e.post("/settings/profile/email", bobC, url.Values{"email": {"bob4@acme.test"}})
		wantStatus(t, w, http.StatusConflict)
		if got := alertText(w.Body.String()); got != "Turn off two-step verification before changing your email address." {
			t.Errorf("2FA message %q", got)
		}
		w = e.get(path, "")
		wantStatus(t, w, http.StatusConflict)
		wantContains(t, w, "Turn off two-step verification before changing your email address.")
		if got := e.user(bob.ID).Email; got != "robert@builder.test" {
			t.Errorf("email %q changed under 2FA", got)
		}

		// The admin sees it all in the activity log, in their time zone.
		w = e.get(fmt.Sprintf("/settings/users/%d", bob.ID), admin)
		wantContains(t, w, "Activity", "Times are shown in Europe/Madrid.", "Email change requested", "Email change cancelled",
			"Email changed", "Someone with the link", "Bob Builder", "Ada Admin", "bob@acme.test → robert@builder.test", "192.0.2.1")
	})
}

func TestPasswordChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobC := e.login("bob@acme.test")
		other := e.login("bob@acme.test")

		w := e.get("/settings/profile", bobC)
		wantContains(t, w, `name="current_password"`, `name="new_password"`,
			"Required while two-step verification is on, or when you signed in more than 10 minutes ago.")

		// Within ten minutes of signing in, no current password is needed.
		const pw2, pw3 = "purple monkey dishwasher", "lunar tangerine quartet"
		w = e.post("/settings/profile/password", bobC, url.Values{"new_password": {"short"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Must be at least 8 characters.")
		wantNotContains(t, w, `value="short"`)
		w = e.post("/settings/profile/password", bobC, url.Values{"new_password": {pw2}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=password_changed")
		wantContains(t, e.get("/settings/profile?done=password_changed", bobC), "Password changed. Other devices were signed out.")
		// The other session ended; this one goes on.
		wantStatus(t, e.get("/settings/profile", other), http.StatusFound)
		if _, err := e.security.SignIn(context.Background(), auth.LoginInput{Email: "bob@acme.test", Password: pw2, Kind: core.SessionWeb}); err != nil {
			t.Fatalf("sign-in with the new password: %v", err)
		}
		if m := e.queue.find(t, "password_changed"); m.To != "bob@acme.test" {
			t.Errorf("notice went to %s", m.To)
		}

		// Eleven minutes later, the current password is required.
		db.SetClock(func() time.Time { return time.Now().Add(11 * time.Minute) })
		w = e.post("/settings/profile/password", bobC, url.Values{"new_password": {pw3}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This field is required.")
		w = e.post("/settings/profile/password", bobC, url.Values{"current_password": {"not my password"}, "new_password": {pw3}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "The current password is not correct.")
		wantNotContains(t, w, "not my password", pw3)
		w = e.post("/settings/profile/password", bobC, url.Values{"current_password": {pw2}, "new_password": {pw3}})
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=password_changed")

		// With two-step verification on, it is required even right away.
		db.SetClock(time.Now)
		fresh := e.post("/login", "", url.Values{"email": {"bob@acme.test"}, "password": {pw3}})
		freshC := sessionCookie(fresh).Value
		e.update(bob, func(u *core.User) { u.TwoFactorEnabled = true })
		w = e.post("/settings/profile/password", freshC, url.Values{"new_password": {pw2}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "This field is required.")
	})
}

func TestPhotoUpload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		bobC := e.login("bob@acme.test")
		olga := e.createUser("Other Co", "Olga Other", "olga@other.test", core.RoleAdmin)
		olgaC := e.login("olga@other.test")

		w := e.get("/settings/profile", bobC)
		wantContains(t, w, `enctype="multipart/form-data"`, `<input id="photo-file" class="photo-input visually-hidden" type="file" name="photo" accept="image/*"`,
			`<label for="photo-file" class="avatar-picker"`, ">BB</span>", "Upload photo")
		wantNotContains(t, w, "Remove photo", "/photos/")

		// A file that is not an image, whatever its name, is refused.
		w = e.upload("/settings/profile/photo", bobC, "photo.png", []byte("just some text, not an image"))
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, e.h.loc("en").T(photo.KeyUnsupported))
		if e.h.loc("en").T(photo.KeyUnsupported) == photo.KeyUnsupported {
			t.Error("unsupported-photo message is not translated")
		}
		// A truncated PNG is corrupt.
		pngData := testPNG(t)
		w = e.upload("/settings/profile/photo", bobC, "cut.png", pngData[:len(pngData)/2])
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, e.h.loc("en").T(photo.KeyCorrupt))
		// No file at all is empty.
		w = e.upload("/settings/profile/photo", bobC, "empty.png", nil)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, e.h.loc("en").T(photo.KeyEmpty))
		// A body past the limit is cut off while reading.
		w = e.upload("/settings/profile/photo", bobC, "huge.png", bytes.Repeat([]byte{0}, photo.MaxUploadBytes+2<<20))
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, e.h.loc("en").Message(photo.KeyTooLarge, map[string]any{"Count": 10}))
		if e.user(bob.ID).PhotoVersion != 0 {
			t.Fatal("a refused upload set a photo")
		}

		w = e.upload("/settings/profile/photo", bobC, "me.png", pngData)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/profile?done=photo_saved")
		version := e.user(bob.ID).PhotoVersion
		if version == 0 {
			t.Fatal("no photo version after upload")
		}
		src := fmt.Sprintf("/photos/%d/%d/128", bob.ID, version)
		w = e.get("/settings/profile?done=photo_saved", bobC)
		wantContains(t, w, "Photo updated.", `<img class="avatar avatar-lg" src="`+src+`"`,
			fmt.Sprintf(`srcset="/photos/%d/%d/512 2x"`, bob.ID, version), "Remove photo",
			fmt.Sprintf(`<img class="avatar avatar-sm" src="/photos/%d/%d/48"`, bob.ID, version))
		checkNoInline(t, "profile with photo", w.Body.String())

		// The photo is served to the workspace with long caching.
		w = e.get(src, admin)
		wantStatus(t, w, http.StatusOK)
		if ct := w.Header().Get("Content-Type"); ct != "image/jpeg" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := w.Header().Get("Cache-Control"); cc != photo.CacheControl {
			t.Errorf("Cache-Control %q", cc)
		}
		if img, err := jpegSize(w.Body.Bytes()); err != nil || img != 128 {
			t.Errorf("served image %d px (%v)", img, err)
		}
		etag := w.Header().Get("ETag")
		w = e.do(req{method: "GET", path: src, cookie: admin, header: map[string]string{"If-None-Match": etag}})
		wantStatus(t, w, http.StatusNotModified)
		wantStatus(t, e.get(fmt.Sprintf("/photos/%d/%d/64", bob.ID, version), admin), http.StatusNotFound)
		wantStatus(t, e.get(fmt.Sprintf("/photos/%d/%d/128", bob.ID, version-1), admin), http.StatusNotFound)
		wantStatus(t, e.get(src, olgaC), http.StatusNotFound)
		wantStatus(t, e.get(src, ""), http.StatusFound)
		_ = olga
		wantContains(t, e.get("/settings/users", admin), fmt.Sprintf(`src="/photos/%d/%d/48"`, bob.ID, version))

		// An admin replaces it; the URL changes so the new photo shows at once.
		w = e.upload(fmt.Sprintf("/settings/users/%d/photo", bob.ID), admin, "other.png", pngData)
		wantRedirect(t, w, http.StatusSeeOther, fmt.Sprintf("/settings/users/%d?done=photo_saved", bob.ID))
		if v2 := e.user(bob.ID).PhotoVersion; v2 <= version {
			t.Errorf("version %d after replacing %d", v2, version)
		}
		wantStatus(t, e.get(src, admin), http.StatusNotFound)

		// Removing it brings the initials back.
		wantRedirect(t, e.post("/settings/profile/photo/delete", bobC, nil), http.StatusSeeOther, "/settings/profile?done=photo_removed")
		w = e.get("/settings/profile?done=photo_removed", bobC)
		wantContains(t, w, "Photo removed.", ">BB</span>")
		wantNotContains(t, w, "/photos/", "Remove photo")
		_ = ada
	})
}

func TestPhotoUploadNeedsMultipart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Language = "tr" })
		bobC := e.login("bob@acme.test")

		// A photo form posted as a plain form (or anything but multipart)
		// carries no file: 415 naming the image types, in the person's
		// language, as the API answers a wrong Content-Type.
		for _, c := range []struct{ path, cookie, lang string }{
			{"/settings/profile/photo", bobC, "tr"},
			{fmt.Sprintf("/settings/users/%d/photo", bob.ID), admin, "en"},
		} {
			w := e.post(c.path, c.cookie, url.Values{"photo": {"me.png"}})
			wantStatus(t, w, http.StatusUnsupportedMediaType)
			msg := e.h.loc(c.lang).T(photo.KeyUnsupported)
			if got := alertText(w.Body.String()); got != msg || !strings.Contains(got, "JPEG, PNG, GIF") || !strings.Contains(got, "WebP") {
				t.Errorf("%s: message %q, want %q naming the image types", c.path, got, msg)
			}
		}
		w := e.do(req{method: "POST", path: "/settings/profile/photo", cookie: bobC,
			header: map[string]string{"Content-Type": "application/json"}})
		wantStatus(t, w, http.StatusUnsupportedMediaType)
		if e.user(bob.ID).PhotoVersion != 0 {
			t.Fatal("a refused upload set a photo")
		}
	})
}

// jpegSize decodes a JPEG's header and returns its width.
func jpegSize(b []byte) (int, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	if format != "jpeg" {
		return 0, fmt.Errorf("format %s", format)
	}
	return cfg.Width, nil
}

var resetPathRE = regexp.MustCompile(`^/password/reset/[A-Za-z0-9_-]+$`)

func TestAdminPasswordReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ada := e.setup("en")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		e.update(bob, func(u *core.User) { u.Language = "es" })
		cleo := e.createUser("Acme", "Cleo Clerk", "cleo@acme.test", core.RoleUser, core.RightProfileAccess)
		bobC, cleoC := e.login("bob@acme.test"), e.login("cleo@acme.test")

		// Only admins send reset links.
		wantNotContains(t, e.get(fmt.Sprintf("/settings/users/%d", bob.ID), cleoC), "password-reset")
		wantStatus(t, e.post(fmt.Sprintf("/settings/users/%d/password-reset", bob.ID), cleoC, nil), http.StatusForbidden)
		_ = cleo

		// Profile access does not reach sign-in addresses: no form, and 403
		// for the admin's (which would send the confirmation link to Cleo).
		adaPath := fmt.Sprintf("/settings/users/%d", ada.ID)
		adaPage := e.get(adaPath, cleoC)
		wantStatus(t, adaPage, http.StatusOK)
		wantNotContains(t, adaPage, `action="`+adaPath+`/email"`)
		wantContains(t, e.get(fmt.Sprintf("/settings/users/%d", bob.ID), admin), fmt.Sprintf(`action="/settings/users/%d/email"`, bob.ID))
		wantStatus(t, e.post(adaPath+"/email", cleoC, url.Values{"email": {"cleo.owns@evil.test"}}), http.StatusForbidden)
		if e.user(ada.ID).Email != "ada@acme.test" {
			t.Fatal("the admin's address changed")
		}

		w := e.post(fmt.Sprintf("/settings/users/%d/password-reset", bob.ID), admin, nil)
		wantRedirect(t, w, http.StatusSeeOther, fmt.Sprintf("/settings/users/%d?done=reset_sent", bob.ID))
		wantContains(t, e.get(fmt.Sprintf("/settings/users/%d?done=reset_sent", bob.ID), admin), "Password reset link sent.")
		m := e.queue.find(t, "password_reset")
		if m.To != "bob@acme.test" || m.Lang != "es" {
			t.Fatalf("reset mail %+v", m)
		}
		path := linkPath(t, m)
		if !resetPathRE.MatchString(path) {
			t.Fatalf("reset link %q", path)
		}

		// The page speaks Bob's language.
		w = e.get(path, "")
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `<html lang="es">`, "Elige una nueva contraseña", "bob@acme.test")
		checkNoInline(t, "reset", w.Body.String())

		const newPW = "sunny harbour lantern"
		w = e.post(path, "", url.Values{"new_password": {newPW}, "confirm_password": {"something else"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Las contraseñas no coinciden.")
		w = e.post(path, "", url.Values{"new_password": {"bob@acme.test"}, "confirm_password": {"bob@acme.test"}})
		wantStatus(t, w, http.StatusUnprocessableEntity)
		w = e.post(path, "", url.Values{"new_password": {newPW}, "confirm_password": {newPW}})
		wantRedirect(t, w, http.StatusSeeOther, "/login?done=password_reset")
		w = e.do(req{method: "GET", path: "/login?done=password_reset", header: map[string]string{"Accept-Language": "es"}})
		wantContains(t, w, "Tu contraseña se ha restablecido.")

		// Bob's old session is gone, the new password works, the link is spent.
		wantStatus(t, e.get("/settings/profile", bobC), http.StatusFound)
		if _, err := e.security.SignIn(context.Background(), auth.LoginInput{Email: "bob@acme.test", Password: newPW, Kind: core.SessionWeb}); err != nil {
			t.Fatalf("sign-in with the reset password: %v", err)
		}
		w = e.get(path, "")
		wantStatus(t, w, http.StatusNotFound)
		wantContains(t, w, "This link is invalid, expired or already used.")
		wantStatus(t, e.post(path, "", url.Values{"new_password": {newPW}, "confirm_password": {newPW}}), http.StatusNotFound)
		wantStatus(t, e.get("/password/reset/nonsense", ""), http.StatusNotFound)

		w = e.get(fmt.Sprintf("/settings/users/%d", bob.ID), admin)
		wantContains(t, w, "Password reset link sent", "Password reset through a link", "Someone with the link", "Ada Admin")
	})
}
