package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// switchableCells is every cell the settings form lists in "cells".
func switchableCells() []string {
	var out []string
	for _, t := range notify.Types() {
		if t.Mandatory {
			continue
		}
		for _, ch := range notify.Channels {
			if ch.Switchable() {
				out = append(out, t.Key+"."+string(ch))
			}
		}
	}
	return out
}

// matrixForm is the settings form as a browser sends it: every switchable
// cell listed, the ones in on ticked.
func matrixForm(on func(cell string) bool) url.Values {
	f := url.Values{}
	for _, c := range switchableCells() {
		f.Add("cells", c)
		if on(c) {
			f.Set("cell."+c, "on")
		}
	}
	return f
}

// seed posts n events of typ to user and fans them out, as the queue would.
func (e *env) seed(actor, user *core.User, typ string, n int) []int64 {
	e.t.Helper()
	ctx := context.Background()
	data := map[string]any{"title": "Item"}
	switch typ {
	case "lead.incoming":
		data["source"] = "form"
	case "task.assigned":
		data["from"] = "Bea"
	}
	in := make([]notify.EventInput, n)
	for i := range in {
		d := map[string]any{}
		for k, v := range data {
			d[k] = v
		}
		d["title"] = fmt.Sprintf("%s %d", typ, i)
		in[i] = notify.EventInput{Type: typ, Recipients: []int64{user.ID}, Data: d}
	}
	acc, err := e.notify.Intake(ctx, actor, in)
	if err != nil {
		e.t.Fatalf("intake: %v", err)
	}
	ids := make([]int64, len(acc))
	for i, a := range acc {
		if err := e.notify.Fanout(ctx, a.ID); err != nil {
			e.t.Fatalf("fan-out: %v", err)
		}
		ids[i] = a.ID
	}
	return ids
}

func (e *env) unread(u *core.User) int64 {
	e.t.Helper()
	n, err := e.notify.UnreadCount(context.Background(), u)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

var noticeIDs = regexp.MustCompile(`data-notice-id="([1-9][0-9]*)"`)

// notices lists the ids of the centre's items on a page, in order.
func notices(body string) []int64 {
	var out []int64
	for _, m := range noticeIDs.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, id)
	}
	return out
}

// TestNotificationSettingsPage: the matrix shows every type by category
// with the centre column and the security rows always on (checked,
// disabled, not posted); a save applies the master switch, the email
// timing and every switchable cell (off ones included), read back through
// the domain; a save that turns a mandatory type off is refused at the
// field and changes nothing.
func TestNotificationSettingsPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setup("en")
		u := e.createUser("Acme", "Uma User", "uma@acme.test", core.RoleUser)
		cookie := e.login("uma@acme.test")
		ctx := context.Background()

		w := e.get("/settings/notifications", cookie)
		wantStatus(t, w, http.StatusOK)
		body := w.Body.String()
		wantContains(t, w, "Receive notifications", `name="receive" value="on" role="switch"`,
			`<input type="checkbox" name="cell.lead.incoming.email" value="on" checked>`,
			`<input type="checkbox" name="cell.chat.group.browser" value="on">`,
			"Incoming leads", "Always on", "Not available", "Once a day at", `type="time"`)
		for _, cat := range notify.Categories {
			if !strings.Contains(body, `id="matrix-`+string(cat)+`"`) {
				t.Errorf("no heading for category %s", cat)
			}
		}
		// Mandatory rows and the centre column are never posted.
		wantNotContains(t, w, `name="cell.security.`, `name="cell.lead.incoming.in_app"`, `value="security.password_changed.email"`)
		if got := strings.Count(body, `<input type="checkbox" checked disabled>`); got != len(notify.Types())+7*(len(notify.Channels)-1) {
			t.Errorf("%d locked cells, want one per type in the centre column and every cell of the 7 security rows", got)
		}
		// Not an admin: no way to the workspace defaults.
		wantNotContains(t, w, `href="/settings/notifications/defaults"`)

		// Save: notifications off, a daily email at 18:30, lead emails off,
		// group chats in the browser on.
		f := matrixForm(func(c string) bool {
			s, _ := e.notify.Settings(ctx, u)
			i := strings.LastIndexByte(c, '.')
			on := s.Cells.On(c[:i], notify.Channel(c[i+1:]))
			switch c {
			case "lead.incoming.email":
				return false
			case "chat.group.browser":
				return true
			}
			return on
		})
		f.Set("email_timing", "daily")
		f.Set("digest_time", "18:30")
		w = e.post("/settings/notifications", cookie, f)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/notifications?done=notify_saved")
		s, err := e.notify.Settings(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if s.Receive || s.EmailTiming != core.EmailDaily || s.DigestTime != "18:30" {
			t.Errorf("switches %v %q %q", s.Receive, s.EmailTiming, s.DigestTime)
		}
		if s.Cells.On("lead.incoming", notify.Email) || !s.Cells.On("chat.group", notify.Browser) || !s.Cells.On("lead.incoming", notify.Browser) {
			t.Errorf("cells not saved: %v", s.Cells["lead.incoming"])
		}
		w = e.get("/settings/notifications?done=notify_saved", cookie)
		wantContains(t, w, "Notification settings saved.", `<input type="checkbox" name="cell.lead.incoming.email" value="on">`,
			`<input type="checkbox" name="cell.chat.group.browser" value="on" checked>`, `value="18:30"`)
		wantNotContains(t, w, `name="receive" value="on" role="switch" aria-describedby="receive-hint" checked`)

		// A mandatory cell posted as off: 422 at the field, nothing saved
		// (not even the other changes of the same form).
		f = matrixForm(func(string) bool { return true })
		f.Set("receive", "on")
		f.Add("cells", "security.password_changed.email")
		w = e.post("/settings/notifications", cookie, f)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, `<p class="field-error" id="err-security.password_changed.email">This one cannot be turned off.</p>`)
		if s, _ := e.notify.Settings(ctx, u); s.Receive || s.Cells.On("lead.incoming", notify.Email) {
			t.Error("a refused save changed settings")
		}
		// A bad time is shown at its field.
		f = matrixForm(func(string) bool { return true })
		f.Set("digest_time", "25:00")
		w = e.post("/settings/notifications", cookie, f)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter a time as HH:MM, for example 09:00.", `value="25:00" class="time-input" aria-describedby="digest-hint" aria-invalid="true"`)

		// Quiet hours and a pause, in the person's zone.
		f = matrixForm(func(string) bool { return true })
		f.Set("quiet_on_1", "on")
		f.Set("quiet_from_1", "22:00")
		f.Set("quiet_to_1", "07:00")
		f.Set("quiet_on_6", "on")
		f.Set("quiet_from_6", "13:00")
		f.Set("quiet_to_6", "18:00")
		until := time.Now().In(loadZone(t, u.Timezone)).Add(48 * time.Hour).Truncate(time.Minute)
		f.Set("paused_until", until.Format("2006-01-02T15:04"))
		w = e.post("/settings/notifications", cookie, f)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/notifications?done=notify_saved")
		s, err = e.notify.Settings(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(s.Quiet) != "[{1 22:00 07:00} {6 13:00 18:00}]" || !s.PausedUntil.Equal(until) {
			t.Errorf("quiet hours %v, paused until %v (want %v)", s.Quiet, s.PausedUntil, until)
		}
		w = e.get("/settings/notifications", cookie)
		wantContains(t, w, `name="quiet_on_1" value="on" checked`, `name="quiet_from_6" value="13:00"`, `value="`+until.Format("2006-01-02T15:04")+`"`)
		wantNotContains(t, w, `name="quiet_on_2" value="on" checked`)
		// A pause in the past, or a quiet span that starts where it ends:
		// 422 at the field, nothing saved.
		f.Set("paused_until", "2001-01-01T10:00")
		w = e.post("/settings/notifications", cookie, f)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "Enter a date and time in the future, within a year.")
		f.Set("paused_until", "")
		f.Set("quiet_to_6", "13:00")
		w = e.post("/settings/notifications", cookie, f)
		wantStatus(t, w, http.StatusUnprocessableEntity)
		wantContains(t, w, "The start and end must differ.")
		if s, _ := e.notify.Settings(ctx, u); !s.PausedUntil.Equal(until) || len(s.Quiet) != 2 {
			t.Error("a refused save changed the quiet hours")
		}
	})
}

func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestNotificationDefaultsPage: only admins see and save the workspace's
// defaults; people who never chose follow them at once.
func TestNotificationDefaultsPage(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setup("en")
	u := e.createUser("Acme", "Uma User", "uma@acme.test", core.RoleUser)
	ctx := context.Background()
	user := e.login("uma@acme.test")
	wantStatus(t, e.get("/settings/notifications/defaults", user), http.StatusForbidden)
	wantStatus(t, e.post("/settings/notifications/defaults", user, matrixForm(func(string) bool { return false })), http.StatusForbidden)

	admin := e.login("ada@acme.test")
	w := e.get("/settings/notifications", admin)
	wantContains(t, w, `href="/settings/notifications/defaults"`)
	w = e.get("/settings/notifications/defaults", admin)
	wantStatus(t, w, http.StatusOK)
	wantContains(t, w, "never changed a cell", `name="cell.task.assigned.email" value="on" checked`)

	w = e.post("/settings/notifications/defaults", admin, matrixForm(func(c string) bool { return c == "task.assigned.browser" }))
	wantRedirect(t, w, http.StatusSeeOther, "/settings/notifications/defaults?done=notify_defaults_saved")
	s, err := e.notify.Settings(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if s.Cells.On("task.assigned", notify.Email) || !s.Cells.On("task.assigned", notify.Browser) {
		t.Errorf("the user does not follow the defaults: %v", s.Cells["task.assigned"])
	}
	f := matrixForm(func(string) bool { return true })
	f.Add("cells", "security.new_device.telegram")
	wantStatus(t, e.post("/settings/notifications/defaults", admin, f), http.StatusUnprocessableEntity)
	if s, _ := e.notify.Settings(ctx, u); s.Cells.On("task.assigned", notify.Email) {
		t.Error("a refused save changed the defaults")
	}
}

// TestBell: the top bar's bell links to the centre with the unread count
// in its name; the badge is hidden at 0 and says 99+ beyond 99.
func TestBell(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	admin := e.setup("en")
	u := e.createUser("Acme", "Uma User", "uma@acme.test", core.RoleUser)
	cookie := e.login("uma@acme.test")

	w := e.get("/settings/profile", cookie)
	wantContains(t, w, `href="/notifications"`, `aria-label="Notifications, none unread"`, `data-bell-count aria-hidden="true" hidden>0<`)

	e.seed(admin, u, "lead.incoming", 3)
	w = e.get("/settings/profile", cookie)
	wantContains(t, w, `aria-label="Notifications, 3 unread"`, `data-bell-count aria-hidden="true">3<`)

	e.seed(admin, u, "task.assigned", 120)
	w = e.get("/settings/security", cookie)
	wantContains(t, w, `aria-label="Notifications, 123 unread"`, `data-bell-count aria-hidden="true">99+<`)

	// The plural forms travel to app.js for live counts: Russian has four.
	e.update(u, func(u *core.User) { u.Language = "ru" })
	w = e.get("/settings/profile", cookie)
	wantContains(t, w, `aria-label="Уведомления, 123 непрочитанных"`, `"few":"Уведомления, # непрочитанных"`)
}

// TestNotificationCentre: newest first, 20 a page with keyset pages
// (before), a category filter, read and unread one, read all; another
// person's notification does not exist.
func TestNotificationCentre(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		admin := e.setup("en")
		u := e.createUser("Acme", "Uma User", "uma@acme.test", core.RoleUser)
		cookie := e.login("uma@acme.test")

		w := e.get("/notifications", cookie)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "No notifications yet.")
		wantNotContains(t, w, "Older →")

		e.seed(admin, u, "task.assigned", 3)
		e.seed(admin, u, "lead.incoming", 22)
		w = e.get("/notifications", cookie)
		first := notices(w.Body.String())
		if len(first) != 20 {
			t.Fatalf("%d items on the first page", len(first))
		}
		for i := 1; i < len(first); i++ {
			if first[i] >= first[i-1] {
				t.Fatalf("not newest first: %v", first)
			}
		}
		wantContains(t, w, "25 unread", "lead.incoming 21", "It came in through a web form.", `class="notice is-unread"`,
			`href="/notifications?before=`+strconv.FormatInt(first[19], 10)+`"`, "Older →")
		wantNotContains(t, w, "Newest")

		w = e.get("/notifications?before="+strconv.FormatInt(first[19], 10), cookie)
		second := notices(w.Body.String())
		if len(second) != 5 || second[0] >= first[19] {
			t.Fatalf("second page %v after %v", second, first)
		}
		wantContains(t, w, "← Newest", "task.assigned 0")
		wantNotContains(t, w, "Older →")

		w = e.get("/notifications?category=tasks", cookie)
		tasks := notices(w.Body.String())
		if len(tasks) != 3 {
			t.Fatalf("%d tasks", len(tasks))
		}
		wantContains(t, w, `aria-current="page">Tasks<`, "Bea assigned")
		wantNotContains(t, w, "lead.incoming")

		// Read one, from the filtered page: back to it.
		w = e.post(fmt.Sprintf("/notifications/%d/read", tasks[0]), cookie, url.Values{"back": {"category=tasks"}})
		wantRedirect(t, w, http.StatusSeeOther, "/notifications?category=tasks&done=marked_read")
		if n := e.unread(u); n != 24 {
			t.Errorf("unread %d after reading one", n)
		}
		w = e.get("/notifications?category=tasks&done=marked_read", cookie)
		wantContains(t, w, "Marked as read.", fmt.Sprintf(`class="notice" data-notice-id="%d"`, tasks[0]), "24 unread")
		w = e.post(fmt.Sprintf("/notifications/%d/unread", tasks[0]), cookie, url.Values{"back": {"before=" + strconv.FormatInt(first[19], 10)}})
		wantRedirect(t, w, http.StatusSeeOther, "/notifications?before="+strconv.FormatInt(first[19], 10)+"&done=marked_unread")
		if n := e.unread(u); n != 25 {
			t.Errorf("unread %d after unreading it", n)
		}

		// Someone else cannot touch it.
		e.createUser("Acme", "Otto Other", "otto@acme.test", core.RoleUser)
		other := e.login("otto@acme.test")
		wantStatus(t, e.post(fmt.Sprintf("/notifications/%d/read", tasks[0]), other, nil), http.StatusNotFound)
		if n := e.unread(u); n != 25 {
			t.Errorf("unread %d after another person's try", n)
		}

		w = e.post("/notifications/read-all", cookie, url.Values{"back": {"category=leads"}})
		wantRedirect(t, w, http.StatusSeeOther, "/notifications?category=leads&done=all_read")
		if n := e.unread(u); n != 0 {
			t.Errorf("unread %d after read all", n)
		}
		w = e.get("/notifications", cookie)
		wantContains(t, w, "Everything is read.", `aria-label="Notifications, none unread"`)
		wantNotContains(t, w, `class="notice is-unread"`)
	})
}

// TestDeliveryLogPage: admins see the workspace's deliveries with their
// filters and send a failed one again; members cannot; the centre shows
// each notification's deliveries to its person.
func TestDeliveryLogPage(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	admin := e.setup("en")
	u := e.createUser("Acme", "Uma User", "uma@acme.test", core.RoleUser)
	e.seed(admin, u, "task.assigned", 2)
	// No channel is configured here: every delivery was skipped. Make one
	// failed, as a rejecting peer would have.
	var id int64
	if err := e.db.R.QueryRow("SELECT MIN(id) FROM notify_deliveries WHERE channel = 'mobile'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.W.Exec("UPDATE notify_deliveries SET status = 'failed', reason = '', last_error = 'UNREGISTERED' WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	member := e.login("uma@acme.test")
	wantStatus(t, e.get("/settings/deliveries", member), http.StatusForbidden)
	wantStatus(t, e.post("/settings/deliveries/"+strconv.FormatInt(id, 10)+"/retry", member, url.Values{}), http.StatusForbidden)
	w := e.get("/notifications", member)
	wantContains(t, w, "Where it went", "<li>Mobile app: Skipped (Channel not available)</li>", "<li>Mobile app: Failed</li>")

	cookie := e.login("ada@acme.test")
	w = e.get("/settings/deliveries?status=failed&channel=mobile", cookie)
	wantContains(t, w, `href="/settings/deliveries"`, "UNREGISTERED", "Uma User", `action="/settings/deliveries/`+strconv.FormatInt(id, 10)+`/retry"`,
		`<option value="failed" selected>`)
	f := url.Values{"back": {"status=failed&channel=mobile"}}
	w = e.post("/settings/deliveries/"+strconv.FormatInt(id, 10)+"/retry", cookie, f)
	wantRedirect(t, w, http.StatusSeeOther, "/settings/deliveries?channel=mobile&done=delivery_retried&status=failed")
	var status string
	if err := e.db.R.QueryRow("SELECT status FROM notify_deliveries WHERE id = ?", id).Scan(&status); err != nil || status != "queued" {
		t.Fatalf("after retry: %q %v", status, err)
	}
	w = e.get("/settings/deliveries?channel=mobile&done=delivery_retried&status=failed", cookie)
	wantContains(t, w, "The delivery is queued again.", "No deliveries match.")
	// Only a failed one goes again.
	wantStatus(t, e.post("/settings/deliveries/"+strconv.FormatInt(id, 10)+"/retry", cookie, f), http.StatusConflict)
}
