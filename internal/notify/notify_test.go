package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/jobs"
	"roster/internal/notify"
	"roster/internal/services"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestDecideEveryCombination holds the precedence rule (mandatory >
// master switch > channel usable > cell) for every channel and every
// combination, against a table written out by hand.
func TestDecideEveryCombination(t *testing.T) {
	plain, _ := notify.TypeOf("task.assigned")
	mandatory, _ := notify.TypeOf("security.password_changed")
	// want[mandatory][receive][usable][cell] for channels other than in-app.
	type key struct{ mandatory, receive, usable, cell bool }
	want := map[key]string{
		{false, false, false, false}: "master_off", {false, false, false, true}: "master_off",
		{false, false, true, false}: "master_off", {false, false, true, true}: "master_off",
		{false, true, false, false}: "channel_unavailable", {false, true, false, true}: "channel_unavailable",
		{false, true, true, false}: "preference", {false, true, true, true}: "deliver",
		{true, false, false, false}: "channel_unavailable", {true, false, false, true}: "channel_unavailable",
		{true, false, true, false}: "deliver", {true, false, true, true}: "deliver",
		{true, true, false, false}: "channel_unavailable", {true, true, false, true}: "channel_unavailable",
		{true, true, true, false}: "deliver", {true, true, true, true}: "deliver",
	}
	bools := []bool{false, true}
	for _, ch := range notify.Channels {
		for k, w := range want {
			typ := plain
			if k.mandatory {
				typ = mandatory
			}
			d := notify.Decide(notify.Choice{Type: typ, Channel: ch, Receive: k.receive, Usable: k.usable, CellOn: k.cell})
			got := d.Reason
			if d.Deliver {
				got = "deliver"
			}
			if ch == notify.InApp {
				w = "deliver" // the centre records everything
			}
			if got != w {
				t.Errorf("%s %+v: %s, want %s", ch, k, got, w)
			}
		}
	}
	_ = bools
}

func TestCatalogue(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"call.incoming", "call.missed", "email.incoming", "chat.message", "lead.incoming", "message.internal",
		"chat.group", "mention", "task.assigned", "task.due", "task.completed", "system.billing", "system.api_blocked",
		"system.webhook_disabled", "system.report"}
	for _, k := range keys {
		if _, ok := notify.TypeOf(k); !ok {
			t.Errorf("type %s missing from the catalogue", k)
		}
	}
	for _, n := range []core.Notice{core.NoticePasswordChanged, core.NoticeEmailChangeRequested, core.NoticeEmailChanged,
		core.NoticeTwoFactorEnabled, core.NoticeTwoFactorDisabled, core.NoticeTwoFactorReset, core.NoticeNewDevice} {
		typ, ok := notify.TypeOf(string(n))
		if !ok || !typ.Mandatory {
			t.Errorf("security notice %s: in catalogue %v, mandatory %v", n, ok, ok && typ.Mandatory)
		}
	}
	// Every type renders in every language with every variant, without a
	// missing value or an untranslated key.
	for _, typ := range notify.Types() {
		for _, lang := range i18n.Supported {
			loc := bundle.Localizer(lang)
			variants := []map[string]any{{}}
			if typ.BodyBy != "" {
				f, _ := typ.Field(typ.BodyBy)
				variants = nil
				for _, v := range f.Values {
					variants = append(variants, map[string]any{typ.BodyBy: v})
				}
			}
			for _, v := range variants {
				data := map[string]any{"title": "Deal 42", "from": "Bea", "text": "Hello", "ip": "192.0.2.1", "minutes": 1, "days": 5}
				for k, x := range v {
					data[k] = x
				}
				r := notify.Render(typ, data, loc)
				for _, s := range []string{r.Title, r.Body, loc.T("notify.type." + typ.Key + ".name"), loc.T("notify.type." + typ.Key + ".description")} {
					if s == "" || strings.Contains(s, "<no value>") || strings.HasPrefix(s, "notify.") {
						t.Errorf("%s in %s renders %q", typ.Key, lang, s)
					}
				}
			}
		}
	}
	// Plural forms: Russian picks "few" for 3 and "many" for 5.
	due, _ := notify.TypeOf("task.due")
	ru := bundle.Localizer("ru")
	three := notify.Render(due, map[string]any{"title": "x", "minutes": 3}, ru).Body
	five := notify.Render(due, map[string]any{"title": "x", "minutes": 5}, ru).Body
	if three == five || !strings.Contains(three, "3") {
		t.Errorf("Russian plural forms: %q and %q", three, five)
	}
}

func TestSettingsDefaultsAndWorkspaceDefaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		bob := f.users[0]
		s, err := f.n.Settings(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Receive || s.EmailTiming != "instant" || s.DigestTime != "09:00" || len(s.Chosen) != 0 {
			t.Fatalf("new user's settings: %+v", s)
		}
		if !s.Cells.On("task.assigned", notify.Email) || s.Cells.On("chat.group", notify.Email) || !s.Cells.On("chat.group", notify.InApp) {
			t.Fatalf("catalogue defaults not applied: %v", s.Cells["task.assigned"])
		}
		// The admin turns task.assigned email off for the workspace: Bob,
		// who never chose, follows at once.
		if _, err := f.n.SaveWorkspaceDefaults(ctx, f.admin, map[string]map[string]bool{"task.assigned": {"email": false}}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if s, _ = f.n.Settings(ctx, bob); s.Cells.On("task.assigned", notify.Email) {
			t.Fatal("user does not follow the workspace default")
		}
		// Bob turns it on himself; a later default change leaves him be.
		if _, err := f.n.SaveSettings(ctx, bob, notify.SettingsInput{Cells: map[string]map[string]bool{"task.assigned": {"email": true}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.n.SaveWorkspaceDefaults(ctx, f.admin, map[string]map[string]bool{"task.assigned": {"email": false, "mobile": false}}, ""); err != nil {
			t.Fatal(err)
		}
		s, _ = f.n.Settings(ctx, bob)
		if !s.Cells.On("task.assigned", notify.Email) || s.Cells.On("task.assigned", notify.Mobile) {
			t.Fatalf("chosen cell must stay, unchosen follow: %v", s.Cells["task.assigned"])
		}
		// Setting a cell to the default's value makes it follow again.
		if _, err := f.n.SaveSettings(ctx, bob, notify.SettingsInput{Cells: map[string]map[string]bool{"task.assigned": {"email": false}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.n.SaveWorkspaceDefaults(ctx, f.admin, map[string]map[string]bool{"task.assigned": {"email": true}}, ""); err != nil {
			t.Fatal(err)
		}
		if s, _ = f.n.Settings(ctx, bob); !s.Cells.On("task.assigned", notify.Email) {
			t.Fatal("a cell set back to the default must follow the default again")
		}
		// Only admins set defaults.
		if _, err := f.n.SaveWorkspaceDefaults(ctx, bob, map[string]map[string]bool{"mention": {"email": false}}, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("a user set workspace defaults: %v", err)
		}
		// Bad input changes nothing, not even the valid parts.
		off, daily := false, "daily"
		for name, cells := range map[string]map[string]map[string]bool{
			"mandatory off":   {"security.new_device": {"email": false}},
			"in-app off":      {"mention": {"in_app": false}},
			"unknown type":    {"deal.won": {"email": true}},
			"unknown channel": {"mention": {"fax": true}},
		} {
			_, err := f.n.SaveSettings(ctx, bob, notify.SettingsInput{Receive: &off, EmailTiming: &daily, Cells: cells})
			if core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("%s: %v, want invalid", name, err)
			}
		}
		bad := "25:00"
		if _, err := f.n.SaveSettings(ctx, bob, notify.SettingsInput{Receive: &off, DigestTime: &bad}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("digest time 25:00: %v", err)
		}
		if s, _ = f.n.Settings(ctx, bob); !s.Receive || s.EmailTiming != "instant" {
			t.Fatalf("a refused save changed settings: %+v", s)
		}
		// A good save applies at once and reads back.
		at := "18:30"
		if _, err := f.n.SaveSettings(ctx, bob, notify.SettingsInput{Receive: &off, EmailTiming: &daily, DigestTime: &at}); err != nil {
			t.Fatal(err)
		}
		if s, _ = f.n.Settings(ctx, bob); s.Receive || s.EmailTiming != "daily" || s.DigestTime != "18:30" {
			t.Fatalf("saved settings read back as %+v", s)
		}
	})
}

func TestIntakeRefusesBadEventsAndCreatesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 2)
		stranger := f.otherWorkspace(t)
		good := func() notify.EventInput {
			return notify.EventInput{Type: "task.assigned", Recipients: []int64{f.users[0].ID}, Data: map[string]any{"title": "Call Bea", "from": "Ada"}}
		}
		cases := map[string]struct {
			edit  func(*notify.EventInput)
			field string
		}{
			"unknown type":      {func(e *notify.EventInput) { e.Type = "deal.won" }, "type"},
			"security type":     {func(e *notify.EventInput) { e.Type = "security.password_changed" }, "type"},
			"other workspace":   {func(e *notify.EventInput) { e.Recipients = []int64{stranger.ID} }, "recipients[0]"},
			"unknown recipient": {func(e *notify.EventInput) { e.Recipients = []int64{999999} }, "recipients[0]"},
			"no recipients":     {func(e *notify.EventInput) { e.Recipients = nil }, "recipients"},
			"missing title":     {func(e *notify.EventInput) { delete(e.Data, "title") }, "data.title"},
			"missing from":      {func(e *notify.EventInput) { delete(e.Data, "from") }, "data.from"},
			"javascript url":    {func(e *notify.EventInput) { e.Data["url"] = "javascript:alert(1)" }, "data.url"},
			"relative url":      {func(e *notify.EventInput) { e.Data["url"] = "/deals/1" }, "data.url"},
			"unknown field":     {func(e *notify.EventInput) { e.Data["amount"] = "5" }, "data.amount"},
			"number as title":   {func(e *notify.EventInput) { e.Data["title"] = 5.0 }, "data.title"},
			"title too long":    {func(e *notify.EventInput) { e.Data["title"] = strings.Repeat("x", 201) }, "data.title"},
			"bad lead source": {func(e *notify.EventInput) {
				e.Type, e.Data = "lead.incoming", map[string]any{"title": "x", "source": "fax"}
			}, "data.source"},
			"negative count":      {func(e *notify.EventInput) { e.Type, e.Data = "task.due", map[string]any{"title": "x", "minutes": -1.0} }, "data.minutes"},
			"fractional count":    {func(e *notify.EventInput) { e.Type, e.Data = "task.due", map[string]any{"title": "x", "minutes": 1.5} }, "data.minutes"},
			"all and a list both": {func(e *notify.EventInput) { e.AllUsers = true }, "recipients"},
		}
		for name, c := range cases {
			e := good()
			c.edit(&e)
			_, err := f.n.Intake(ctx, f.admin, []notify.EventInput{e})
			if !slices.ContainsFunc(fieldsOf(err), func(s string) bool { return strings.HasPrefix(s, c.field+":") }) {
				t.Errorf("%s: %v (fields %v), want an error at %s", name, err, fieldsOf(err), c.field)
			}
		}
		// A batch with one bad event stores none, and names the bad one.
		bad := good()
		bad.Data["url"] = "ftp://x"
		_, err := f.n.Intake(ctx, f.admin, []notify.EventInput{good(), bad, good()})
		if got := fieldsOf(err); len(got) != 1 || !strings.HasPrefix(got[0], "events[1].data.url:") {
			t.Fatalf("batch: %v", got)
		}
		if n := f.count(t, "notify_events"); n != 0 {
			t.Fatalf("refused events stored %d rows", n)
		}
		// 501 events is too many.
		many := make([]notify.EventInput, 501)
		for i := range many {
			many[i] = good()
		}
		if _, err := f.n.Intake(ctx, f.admin, many); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("501 events: %v", err)
		}
		// The good batch is taken, with its jobs.
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{good(), good()})
		if err != nil || len(acc) != 2 || acc[0].ID == acc[1].ID {
			t.Fatalf("good batch: %v %v", acc, err)
		}
	})
}

func TestDedupeKeyIsPermanent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		e := notify.EventInput{Type: "call.missed", Recipients: []int64{f.users[0].ID}, Data: map[string]any{"title": "+1 555"}, DedupeKey: "call-7"}
		first, err := f.n.Intake(ctx, f.admin, []notify.EventInput{e})
		if err != nil {
			t.Fatal(err)
		}
		// Even long after and with other data, the key makes nothing new.
		db.SetClock(func() time.Time { return time.Now().Add(400 * 24 * time.Hour) })
		e.Data = map[string]any{"title": "+1 556"}
		again, err := f.n.Intake(ctx, f.admin, []notify.EventInput{e})
		if err != nil || !again[0].Duplicate || again[0].ID != first[0].ID {
			t.Fatalf("repeat: %+v %v, want duplicate of %d", again, err, first[0].ID)
		}
		if n := f.count(t, "notify_events"); n != 1 {
			t.Fatalf("%d events", n)
		}
		// Another workspace may use the same key.
		stranger := f.otherWorkspace(t)
		e.Recipients = []int64{stranger.ID}
		if acc, err := f.n.Intake(ctx, stranger, []notify.EventInput{e}); err != nil || acc[0].Duplicate {
			t.Fatalf("other workspace's key: %+v %v", acc, err)
		}
	})
}

func TestFanoutDeliversOncePerUserAndChannel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		email := &fakeChannel{ch: notify.Email}
		mobile := &fakeChannel{ch: notify.Mobile, unreachable: map[int64]string{}}
		f := newFixture(t, db, 12, email, mobile)
		for _, u := range f.users[:3] {
			mobile.unreachable[u.ID] = notify.UnusableNoDevice
		}
		off := false
		if _, err := f.n.SaveSettings(ctx, f.users[3], notify.SettingsInput{Receive: &off}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.n.SaveSettings(ctx, f.users[4], notify.SettingsInput{Cells: map[string]map[string]bool{"task.assigned": {"email": false}}}); err != nil {
			t.Fatal(err)
		}
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "task.assigned", AllUsers: true,
			Data: map[string]any{"title": "Call Bea", "from": "Ada", "url": "https://crm.example/tasks/1"}}})
		if err != nil {
			t.Fatal(err)
		}
		// Run the fan-out three times, as a retried job would.
		for range 3 {
			if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
		}
		people := len(f.users) + 1 // and the admin
		if n := f.count(t, "notifications"); n != people {
			t.Fatalf("%d notifications, want %d", n, people)
		}
		if n := f.count(t, "notify_deliveries"); n != people*4 {
			t.Fatalf("%d deliveries, want %d (4 channels each)", n, people*4)
		}
		status := func(u *core.User, ch notify.Channel) string {
			var s, r string
			if err := db.R.QueryRow(db.Rebind("SELECT status, reason FROM notify_deliveries WHERE user_id = ? AND channel = ?"), u.ID, string(ch)).Scan(&s, &r); err != nil {
				t.Fatal(err)
			}
			return s + "/" + r
		}
		for _, c := range []struct {
			u    *core.User
			ch   notify.Channel
			want string
		}{
			{f.users[0], notify.Mobile, "skipped/channel_unavailable"},
			{f.users[0], notify.Email, "queued/"},
			{f.users[3], notify.Email, "skipped/master_off"},
			{f.users[4], notify.Email, "skipped/preference"},
			{f.users[4], notify.Mobile, "queued/"},
			{f.users[5], notify.Browser, "skipped/channel_unavailable"}, // no adapter: not configured
			{f.users[5], notify.Telegram, "skipped/channel_unavailable"},
		} {
			if got := status(c.u, c.ch); got != c.want {
				t.Errorf("user %d %s: %s, want %s", c.u.ID, c.ch, got, c.want)
			}
		}
		// Each reader's text is in their language, the count exact.
		page, err := f.n.List(ctx, f.users[5], 0, "", 10) // users[5] reads Russian
		if err != nil || len(page.Items) != 1 || page.Unread != 1 {
			t.Fatalf("centre: %+v %v", page, err)
		}
		if n := page.Items[0]; !strings.Contains(n.Title, "Call Bea") || n.Title == "New task: Call Bea" || n.URL != "https://crm.example/tasks/1" {
			t.Fatalf("Russian reader's notification: %+v", n)
		}
		// Deliveries run once each: a second run of a sent one sends nothing.
		ds, err := db.Reader().Deliveries(ctx, f.ws.ID, f.users[0].ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Status == core.DeliveryQueued {
				for range 2 {
					if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if len(email.sent) != 1 || email.sent[0].Notification.Title != "New task: Call Bea" {
			t.Fatalf("email sent %d times: %+v", len(email.sent), email.sent)
		}
	})
}

func TestDeliveryRetriesThenFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		email := &fakeChannel{ch: notify.Email}
		f := newFixture(t, db, 1, email)
		bob := f.users[0]
		post := func() *core.Delivery {
			t.Helper()
			acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "mention", Recipients: []int64{bob.ID}, Data: map[string]any{"title": "Deal", "from": "Ada"}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
			ds, _ := db.Reader().Deliveries(ctx, f.ws.ID, bob.ID, 0, 10)
			for _, d := range ds {
				if d.Channel == "email" && d.EventID == acc[0].ID {
					return d
				}
			}
			t.Fatal("no email delivery")
			return nil
		}
		get := func(id int64) *core.Delivery {
			d, err := db.Reader().Delivery(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		// Temporary, temporary, then sent.
		email.errs = []error{errors.New("connection refused"), &notify.SendError{Err: errors.New("421 busy")}}
		d := post()
		for i := range 2 {
			if err := notify.DeliverForTest(ctx, f.n, d.ID); err == nil {
				t.Fatalf("attempt %d: a temporary failure must return an error for a retry", i+1)
			}
			if got := get(d.ID); got.Status != "queued" || got.Attempts != i+1 || got.LastError == "" {
				t.Fatalf("after temporary failure %d: %+v", i+1, got)
			}
		}
		if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
			t.Fatal(err)
		}
		if got := get(d.ID); got.Status != "sent" || got.Attempts != 3 {
			t.Fatalf("after success: %+v", got)
		}
		// Permanent: failed at once, visible with its error.
		email.errs = []error{&notify.SendError{Err: errors.New("550 no such user"), Permanent: true}}
		d = post()
		if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
			t.Fatal(err)
		}
		if got := get(d.ID); got.Status != "failed" || !strings.Contains(got.LastError, "550") {
			t.Fatalf("permanent: %+v", got)
		}
		// Dead destination: failed and unlinked.
		email.errs = []error{&notify.SendError{Err: errors.New("410 gone"), Dead: true}}
		d = post()
		_ = notify.DeliverForTest(ctx, f.n, d.ID)
		if got := get(d.ID); got.Status != "failed" || email.unlinked != 1 {
			t.Fatalf("dead: %+v, unlinked %d", got, email.unlinked)
		}
		// Temporary past the retry window: failed.
		email.errs = []error{errors.New("timeout")}
		d = post()
		db.SetClock(func() time.Time { return time.Now().Add(25 * time.Hour) })
		notify.SetClockForTest(f.n, func() time.Time { return time.Now().Add(25 * time.Hour) })
		if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
			t.Fatal(err)
		}
		if got := get(d.ID); got.Status != "failed" || got.LastError != "timeout" {
			t.Fatalf("after the retry window: %+v", got)
		}
	})
}

func TestBackoffIsBoundedWithJitter(t *testing.T) {
	seen := map[time.Duration]bool{}
	for attempt := 1; attempt <= 40; attempt++ {
		for range 20 {
			d := notify.Backoff(attempt)
			bound := min(30*time.Minute, (2*time.Second)<<min(attempt-1, 19))
			if d <= 0 || d > bound {
				t.Fatalf("attempt %d: %v outside (0, %v]", attempt, d, bound)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct waits: no jitter", len(seen))
	}
}

func TestInboxReadStateCountAndFeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		bob := f.users[0]
		var ids []int64
		for i := range 5 {
			acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID}, Data: map[string]any{"title": fmt.Sprint("R", i)}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
		}
		page, err := f.n.List(ctx, bob, 0, "", 2)
		if err != nil || len(page.Items) != 2 || page.Next == 0 || page.Unread != 5 || page.Items[0].Title != "Your report is ready" {
			t.Fatalf("first page: %+v %v", page, err)
		}
		// A new arrival does not shift the next page (keyset, not offset).
		acc, _ := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID}, Data: map[string]any{"title": "R5"}}})
		if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
			t.Fatal(err)
		}
		next, err := f.n.List(ctx, bob, page.Next, "", 10)
		if err != nil || len(next.Items) != 3 || next.Items[0].ID >= page.Items[1].ID {
			t.Fatalf("second page: %+v %v", next, err)
		}
		for _, n := range append(page.Items, next.Items...) {
			ids = append(ids, n.ID)
		}
		if n, err := f.n.SetRead(ctx, bob, ids[0], true); err != nil || n != 5 {
			t.Fatalf("read: %d %v", n, err)
		}
		if n, _ := f.n.SetRead(ctx, bob, ids[0], true); n != 5 { // twice: no change
			t.Fatalf("read twice: %d", n)
		}
		if n, _ := f.n.SetRead(ctx, bob, ids[0], false); n != 6 {
			t.Fatalf("unread: %d", n)
		}
		if _, err := f.n.SetRead(ctx, f.admin, ids[1], true); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("someone else's notification: %v", err)
		}
		if err := f.n.ReadAll(ctx, bob); err != nil {
			t.Fatal(err)
		}
		if n, _ := f.n.UnreadCount(ctx, bob); n != 0 {
			t.Fatalf("after read all: %d", n)
		}
		// The feed tells every change in order, each with the count after it.
		entries, notes, err := f.n.Feed(ctx, bob, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for i, e := range entries {
			kinds = append(kinds, fmt.Sprint(e.Kind, e.Unread))
			if i > 0 && e.Seq <= entries[i-1].Seq {
				t.Fatalf("feed out of order: %+v", entries)
			}
		}
		want := "[new1 new2 new3 new4 new5 new6 read5 unread6 read_all0]"
		if fmt.Sprint(kinds) != want || len(notes) != 6 {
			t.Fatalf("feed %v, want %s (%d notes)", kinds, want, len(notes))
		}
		// Resuming after the third entry gives the rest, none twice.
		rest, _, _ := f.n.Feed(ctx, bob, entries[2].Seq, 100)
		if len(rest) != len(entries)-3 || rest[0].Seq != entries[3].Seq {
			t.Fatalf("resume: %+v", rest)
		}
		// Pruning keeps the count exact.
		if _, err := f.n.SetRead(ctx, bob, ids[0], false); err != nil {
			t.Fatal(err)
		}
		if n, err := f.n.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 6 {
			t.Fatalf("prune: %d %v", n, err)
		}
		if n, _ := f.n.UnreadCount(ctx, bob); n != 0 {
			t.Fatalf("count after prune: %d", n)
		}
		if n := f.count(t, "notify_events"); n != 0 {
			t.Fatalf("%d events left after prune", n)
		}
	})
}

func TestSecurityNoticesReachTheCentre(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		email := &fakeChannel{ch: notify.Email}
		f := newFixture(t, db, 1, email)
		bob := f.users[0]
		off := false
		if _, err := f.n.SaveSettings(ctx, bob, notify.SettingsInput{Receive: &off}); err != nil {
			t.Fatal(err)
		}
		// A recorded notice (as every domain flow records it) becomes an
		// event in the same transaction.
		err := db.InTx(ctx, func(q *store.Q) error {
			return f.set.Events.Record(ctx, q, core.Event{Action: core.AuditSignIn, WorkspaceID: f.ws.ID, ActorID: bob.ID, TargetID: bob.ID,
				IP: "192.0.2.7", Device: "Firefox · Linux", Notice: core.NoticeNewDevice, Recipient: bob})
		})
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := db.R.QueryRow("SELECT id FROM notify_events").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := f.n.Fanout(ctx, id); err != nil {
			t.Fatal(err)
		}
		page, err := f.n.List(ctx, bob, 0, "security", 10)
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("centre: %+v %v", page, err)
		}
		n := page.Items[0]
		if n.Type != "security.new_device" || !n.Popup || !strings.Contains(n.Body, "192.0.2.7") || !strings.Contains(n.Title, "Firefox") {
			t.Fatalf("notice with the master switch off: %+v", n)
		}
		// The security-notice mailer mails it (in the change's
		// transaction); the email channel does not send a second copy.
		var status, reason string
		if err := db.R.QueryRow(db.Rebind("SELECT status, reason FROM notify_deliveries WHERE channel = 'email' AND user_id = ?"), bob.ID).Scan(&status, &reason); err != nil {
			t.Fatal(err)
		}
		if status != "skipped" || reason != "notice" || len(email.sent) != 0 {
			t.Fatalf("email delivery of a security notice: %s/%s, %d sent", status, reason, len(email.sent))
		}
	})
}

// TestConcurrentIntakeSharesTransactionsSafely: many callers at once
// (their events committed in shared transactions) each get their own
// answer; a caller naming a stranger is refused alone.
func TestConcurrentIntakeSharesTransactionsSafely(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		stranger := f.otherWorkspace(t)
		const n = 200
		ids := make([]int64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				to := f.users[0].ID
				if i%10 == 3 {
					to = stranger.ID
				}
				acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{to}, Data: map[string]any{"title": fmt.Sprint("R", i)}}})
				errs[i] = err
				if err == nil {
					ids[i] = acc[0].ID
				}
			})
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i := range n {
			bad := i%10 == 3
			switch {
			case bad && core.ErrorCode(errs[i]) != core.EINVALID:
				t.Fatalf("caller %d named a stranger: %v", i, errs[i])
			case !bad && (errs[i] != nil || ids[i] == 0 || seen[ids[i]]):
				t.Fatalf("caller %d: id %d, %v (seen %v)", i, ids[i], errs[i], seen[ids[i]])
			}
			seen[ids[i]] = true
		}
		if got := f.count(t, "notify_events"); got != n-n/10 {
			t.Fatalf("%d events stored, want %d", got, n-n/10)
		}
		// Each stored event is the one its caller was told about.
		for i := range n {
			if ids[i] == 0 {
				continue
			}
			e, err := db.Reader().NotifyEvent(ctx, ids[i])
			if err != nil || e.Data["title"] != fmt.Sprint("R", i) {
				t.Fatalf("caller %d got event %d holding %v (%v)", i, ids[i], e, err)
			}
		}
	})
}

// TestFanoutOfManyEventsAtOnce: one fan-out job carries several events to
// the same people; each person gets each once, their feed numbers them in
// order with the count after each, and a rerun adds nothing.
func TestFanoutOfManyEventsAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 2)
		ids := []int64{f.users[0].ID, f.users[1].ID}
		in := make([]notify.EventInput, 3)
		for i := range in {
			in[i] = notify.EventInput{Type: "system.report", Recipients: ids, Data: map[string]any{"title": fmt.Sprint("R", i)}}
		}
		acc, err := f.n.Intake(ctx, f.admin, in)
		if err != nil {
			t.Fatal(err)
		}
		events := []int64{acc[0].ID, acc[1].ID, acc[2].ID}
		for range 2 {
			if err := f.n.Fanout(ctx, events...); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.count(t, "notifications"); n != 6 {
			t.Fatalf("%d notifications, want 6", n)
		}
		for _, u := range f.users {
			entries, _, err := f.n.Feed(ctx, u, 0, 10)
			if err != nil || len(entries) != 3 {
				t.Fatalf("feed of %d: %+v %v", u.ID, entries, err)
			}
			for i, e := range entries {
				if e.Seq != int64(i+1) || e.Unread != int64(i+1) || (i > 0 && e.NotificationID <= entries[i-1].NotificationID) {
					t.Fatalf("feed of %d: %+v", u.ID, entries)
				}
			}
			if n, _ := f.n.UnreadCount(ctx, u); n != 3 {
				t.Fatalf("unread of %d: %d", u.ID, n)
			}
		}
	})
}

// TestFanoutToEveryoneInBatches: an event for everyone reaches a
// workspace bigger than several fan-out transactions (on PostgreSQL some
// of them side by side) once per active person, in centre, feed and
// deliveries, and is published to each of them once; an inactive person
// in any batch gets nothing, and a rerun adds nothing.
func TestFanoutToEveryoneInBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		live := &recordingPublisher{}
		f := newFixtureWith(t, db, 1100, services.Config{Live: live})
		inactive := map[int64]bool{}
		for _, i := range []int{0, 260, 777, 1099} {
			inactive[f.users[i].ID] = true
			if _, err := db.W.Exec(db.Rebind("UPDATE users SET state = ? WHERE id = ?"), string(core.StateInactive), f.users[i].ID); err != nil {
				t.Fatal(err)
			}
		}
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", AllUsers: true, Data: map[string]any{"title": "All"}}})
		if err != nil {
			t.Fatal(err)
		}
		people := len(f.users) + 1 - len(inactive) // and the admin
		// Checked as Fanout returns: every batch has committed by then.
		for run := range 2 {
			if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
			if n := f.count(t, "notifications"); n != people {
				t.Fatalf("run %d: %d notifications, want %d", run, n, people)
			}
			if n := f.count(t, "notify_deliveries"); n != people*4 {
				t.Fatalf("run %d: %d deliveries, want %d", run, n, people*4)
			}
			var wrong int
			if err := db.R.QueryRow(`SELECT COUNT(*) FROM users u LEFT JOIN notify_inbox i ON i.user_id = u.id
				WHERE (u.state = 'active') <> (COALESCE(i.unread, 0) = 1 AND COALESCE(i.seq, 0) = 1)`).Scan(&wrong); err != nil || wrong != 0 {
				t.Fatalf("run %d: %d people whose inbox is not one unread notification as their state says (%v)", run, wrong, err)
			}
			live.mu.Lock()
			published := map[int64]int{}
			for _, e := range live.entries {
				published[e.UserID]++
			}
			live.mu.Unlock()
			if len(published) != people {
				t.Fatalf("run %d: published to %d people, want %d", run, len(published), people)
			}
			for id, n := range published {
				if n != 1 || inactive[id] {
					t.Fatalf("run %d: published %d times to %d (inactive: %v)", run, n, id, inactive[id])
				}
			}
		}
	})
}

// panickyChannel panics when asked whether it reaches a batch holding
// the person panicOn: a bug in an adapter.
type panickyChannel struct {
	fakeChannel
	panicOn int64
}

func (p *panickyChannel) Reach(ctx context.Context, q *store.Q, users []*core.User) (map[int64]string, error) {
	for _, u := range users {
		if u.ID == p.panicOn {
			panic("adapter bug")
		}
	}
	return p.fakeChannel.Reach(ctx, q, users)
}

// TestFanoutBatchPanicIsAnError: a panic in one batch of an event for
// everyone is the fan-out's error (the job's, retried), not the end of the
// process, on PostgreSQL where batches run side by side as on SQLite.
func TestFanoutBatchPanicIsAnError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		email := &panickyChannel{fakeChannel: fakeChannel{ch: notify.Email}}
		f := newFixture(t, db, 600, email)
		email.panicOn = f.users[400].ID
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", AllUsers: true, Data: map[string]any{"title": "All"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.n.Fanout(ctx, acc[0].ID); err == nil || !strings.Contains(err.Error(), "panic: adapter bug") {
			t.Fatalf("fan-out error %v, want the panic", err)
		}
		// Fixed, the rerun completes what the failed run left.
		email.panicOn = 0
		if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "notifications"); n != len(f.users)+1 {
			t.Fatalf("%d notifications after the rerun, want %d", n, len(f.users)+1)
		}
	})
}

// recordingPublisher keeps what the service publishes to open streams.
type recordingPublisher struct {
	mu      sync.Mutex
	entries []core.FeedEntry
}

func (p *recordingPublisher) Publish(_ context.Context, entries []core.FeedEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.entries = append(p.entries, entries...)
}

// TestSmallEventsFanOutAtIntake: an event to a few named people is in
// their centres and published to their streams when Intake returns, with
// its deliveries queued and no fan-out job; an event to everyone, or a
// group naming more people than one fan-out transaction takes, leaves its
// fan-out to a job. Either way a later fan-out adds nothing.
func TestSmallEventsFanOutAtIntake(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		live := &recordingPublisher{}
		email := &fakeChannel{ch: notify.Email}
		f := newFixtureWith(t, db, notify.InlineFanout+1, services.Config{Channels: []notify.Adapter{email}, Live: live})
		jobsOf := func(kind string) int {
			t.Helper()
			var n int
			if err := db.R.QueryRow(db.Rebind("SELECT COUNT(*) FROM river_job WHERE kind = ?"), kind).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		two := []int64{f.users[0].ID, f.users[1].ID}
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "task.assigned", Recipients: two,
			Data: map[string]any{"title": "Call Bea", "from": "Ada", "url": "https://crm.example/tasks/1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "notifications"); n != 2 {
			t.Fatalf("%d notifications when intake returned, want 2", n)
		}
		if n := jobsOf("notify.fanout"); n != 0 {
			t.Fatalf("%d fan-out jobs for an event to two people, want 0", n)
		}
		if n := jobsOf("notify.deliver"); n != 2 {
			t.Fatalf("%d delivery jobs, want 2 (email to each)", n)
		}
		live.mu.Lock()
		published := len(live.entries)
		live.mu.Unlock()
		if published != 2 {
			t.Fatalf("%d feed entries published, want 2", published)
		}
		entries, _, err := f.n.Feed(ctx, f.users[1], 0, 10)
		if err != nil || len(entries) != 1 {
			t.Fatalf("feed: %+v %v", entries, err)
		}
		if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "notifications"); n != 2 {
			t.Fatalf("%d notifications after a fan-out rerun, want 2", n)
		}

		// Everyone, and one person past the limit: jobs, nothing yet.
		if _, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", AllUsers: true, Data: map[string]any{"title": "All"}}}); err != nil {
			t.Fatal(err)
		}
		many := make([]int64, 0, notify.InlineFanout+1)
		for _, u := range f.users[:notify.InlineFanout+1] {
			many = append(many, u.ID)
		}
		if _, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", Recipients: many, Data: map[string]any{"title": "Many"}}}); err != nil {
			t.Fatal(err)
		}
		if n := jobsOf("notify.fanout"); n != 2 {
			t.Fatalf("%d fan-out jobs, want 2 (everyone; more than %d people)", n, notify.InlineFanout)
		}
		if n := f.count(t, "notifications"); n != 2 {
			t.Fatalf("%d notifications before the fan-out jobs ran, want 2", n)
		}
	})
}

// TestFanoutsGoBeforeDeliveries: on the shared notification queue a
// fan-out (the in-app centre and its streams) is taken before waiting
// sends to other channels (jobs TestInAppJobsGoFirst shows River keeps
// the order), so an email or push backlog never holds up the centre.
func TestFanoutsGoBeforeDeliveries(t *testing.T) {
	fanout := notify.FanoutArgs{}.InsertOpts()
	for name, opts := range map[string]river.InsertOpts{
		"deliver": notify.DeliverArgs{}.InsertOpts(),
		"digest":  notify.DigestArgs{}.InsertOpts(),
	} {
		if opts.Queue != fanout.Queue || opts.Priority <= fanout.Priority || fanout.Priority != jobs.PriorityInApp {
			t.Errorf("%s: queue %q priority %d; fan-out: queue %q priority %d", name, opts.Queue, opts.Priority, fanout.Queue, fanout.Priority)
		}
	}
}

// TestUnreadCountFollowsEveryChange: the bell's count (cached on SQLite)
// is read before and after each kind of change to it, a fan-out, a read,
// an unread, a read-all and a prune, and must always equal the stored
// count: a change that forgot to drop the cached count leaves the old one.
func TestUnreadCountFollowsEveryChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 2)
		bob, other := f.users[0], f.users[1]
		check := func(step string, want int64) {
			t.Helper()
			got, err := f.n.UnreadCount(ctx, bob)
			stored, _, err2 := db.Reader().UnreadCount(ctx, bob.ID)
			if err != nil || err2 != nil || got != want || stored != want {
				t.Fatalf("%s: count %d, stored %d, want %d (%v %v)", step, got, stored, want, err, err2)
			}
		}
		post := func(to ...int64) {
			t.Helper()
			acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", Recipients: to, Data: map[string]any{"title": "R"}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
		}
		check("before any", 0) // cached as none: the inbox row does not exist yet
		post(bob.ID)
		check("first notification", 1)
		post(bob.ID, other.ID)
		check("second notification", 2)
		page, err := f.n.List(ctx, bob, 0, "", 10)
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("list: %+v %v", page, err)
		}
		if _, err := f.n.SetRead(ctx, bob, page.Items[0].ID, true); err != nil {
			t.Fatal(err)
		}
		check("read", 1)
		if _, err := f.n.SetRead(ctx, bob, page.Items[0].ID, false); err != nil {
			t.Fatal(err)
		}
		check("unread", 2)
		if err := f.n.ReadAll(ctx, bob); err != nil {
			t.Fatal(err)
		}
		check("read all", 0)
		if _, err := f.n.SetRead(ctx, bob, page.Items[1].ID, false); err != nil {
			t.Fatal(err)
		}
		check("unread again", 1)
		if _, err := f.n.Prune(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		check("prune", 0)
		// Another person's changes leave bob's count alone, and theirs
		// is their own.
		if n, _ := f.n.UnreadCount(ctx, other); n != 0 {
			t.Fatalf("other after prune: %d", n)
		}
	})
}
