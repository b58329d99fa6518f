package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestQuietUntil(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	kathmandu, _ := time.LoadLocation("Asia/Kathmandu")
	nights := []core.QuietRange{ // Monday to Friday nights, 22:00 to 07:00
		{Day: 1, From: "22:00", To: "07:00"}, {Day: 2, From: "22:00", To: "07:00"}, {Day: 3, From: "22:00", To: "07:00"},
		{Day: 4, From: "22:00", To: "07:00"}, {Day: 5, From: "22:00", To: "07:00"},
		{Day: 6, From: "00:00", To: "00:00"}, // not valid input (the same start and end): never a window
	}
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	cases := []struct {
		name   string
		now    time.Time
		loc    *time.Location
		ranges []core.QuietRange
		paused time.Time
		want   time.Time
	}{
		{"Monday afternoon: not quiet", at(berlin, 2026, 6, 1, 15, 0), berlin, nights, time.Time{}, time.Time{}},
		{"Monday 22:00 sharp: quiet until Tuesday 07:00", at(berlin, 2026, 6, 1, 22, 0), berlin, nights, time.Time{}, at(berlin, 2026, 6, 2, 7, 0)},
		{"Tuesday 03:00: the window that began Monday", at(berlin, 2026, 6, 2, 3, 0), berlin, nights, time.Time{}, at(berlin, 2026, 6, 2, 7, 0)},
		{"Tuesday 07:00 sharp: over", at(berlin, 2026, 6, 2, 7, 0), berlin, nights, time.Time{}, time.Time{}},
		{"Saturday 03:00: Friday's night", at(berlin, 2026, 6, 6, 3, 0), berlin, nights, time.Time{}, at(berlin, 2026, 6, 6, 7, 0)},
		{"Sunday 23:00: no window on Sunday", at(berlin, 2026, 6, 7, 23, 0), berlin, nights, time.Time{}, time.Time{}},
		{"paused until Wednesday noon", at(berlin, 2026, 6, 1, 15, 0), berlin, nil, at(berlin, 2026, 6, 3, 12, 0), at(berlin, 2026, 6, 3, 12, 0)},
		{"a pause that ends inside quiet hours runs on to their end", at(berlin, 2026, 6, 1, 15, 0), berlin, nights, at(berlin, 2026, 6, 1, 23, 0), at(berlin, 2026, 6, 2, 7, 0)},
		{"a pause in the past: nothing", at(berlin, 2026, 6, 1, 15, 0), berlin, nil, at(berlin, 2026, 6, 1, 14, 0), time.Time{}},
		{"back-to-back windows count as one", at(berlin, 2026, 6, 1, 12, 30), berlin,
			[]core.QuietRange{{Day: 1, From: "12:00", To: "13:00"}, {Day: 1, From: "13:00", To: "14:00"}}, time.Time{}, at(berlin, 2026, 6, 1, 14, 0)},
		{"a quarter-hour zone", time.Date(2026, 6, 1, 16, 30, 0, 0, time.UTC), kathmandu, // 22:15 in Kathmandu
			[]core.QuietRange{{Day: 1, From: "22:00", To: "06:45"}}, time.Time{}, at(kathmandu, 2026, 6, 2, 6, 45)},
		{"the night the clocks go forward (Berlin, 29 March 2026)", at(berlin, 2026, 3, 29, 1, 30), berlin,
			[]core.QuietRange{{Day: 6, From: "23:00", To: "02:30"}}, time.Time{}, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)}, // 02:30 does not exist: 03:00 CEST
	}
	for _, c := range cases {
		if got := notify.QuietUntil(c.now, c.loc, c.ranges, c.paused); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestQuietHoursAndReadSuppression: a delivery due in the person's quiet
// hours is held (queued, with its reason) and goes when they end; a
// chat message waits ChatDelay before leaving the centre and is not sent
// at all when read meanwhile.
func TestQuietHoursAndReadSuppression(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mobile := &fakeChannel{ch: notify.Mobile}
		f := newFixture(t, db, 1, mobile)
		c := &clock{t: time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC)} // a Monday
		notify.SetClockForTest(f.n, c.now)
		db.SetClock(c.now)
		bob := f.users[0]
		quiet := []core.QuietRange{{Day: 1, From: "22:00", To: "07:00"}}
		if _, err := f.n.SaveSettings(ctx, bob, notify.SettingsInput{Quiet: &quiet}); err != nil {
			t.Fatal(err)
		}
		delivery := func(typ string, data map[string]any) *core.Delivery {
			t.Helper()
			acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: typ, Recipients: []int64{bob.ID}, Data: data}})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
			ds, _ := db.Reader().Deliveries(ctx, f.ws.ID, bob.ID, 0, 50)
			for _, d := range ds {
				if d.Channel == "mobile" && d.EventID == acc[0].ID {
					return d
				}
			}
			t.Fatal("no mobile delivery")
			return nil
		}
		d := delivery("task.assigned", map[string]any{"title": "Call Bea", "from": "Ada"})
		err := notify.DeliverForTest(ctx, f.n, d.ID)
		var snooze *river.JobSnoozeError
		if !errors.As(err, &snooze) || snooze.Duration != 8*time.Hour {
			t.Fatalf("in quiet hours: %v, want a snooze of 8h (to 07:00)", err)
		}
		if got, _ := db.Reader().Delivery(ctx, d.ID); got.Status != "queued" || got.Reason != notify.ReasonQuiet || len(mobile.sent) != 0 {
			t.Fatalf("held delivery %+v, %d sent", got, len(mobile.sent))
		}
		// A security notice is not held: mandatory types ignore quiet hours.
		err = db.InTx(ctx, func(q *store.Q) error {
			return f.set.Events.Record(ctx, q, core.Event{Action: core.AuditPasswordChanged, WorkspaceID: f.ws.ID, ActorID: bob.ID,
				TargetID: bob.ID, Notice: core.NoticePasswordChanged, Recipient: bob})
		})
		if err != nil {
			t.Fatal(err)
		}
		var noticeEvent int64
		if err := db.R.QueryRow(db.Rebind("SELECT id FROM notify_events WHERE type = ?"), string(core.NoticePasswordChanged)).Scan(&noticeEvent); err != nil {
			t.Fatal(err)
		}
		if err := f.n.Fanout(ctx, noticeEvent); err != nil {
			t.Fatal(err)
		}
		var notice int64
		if err := db.R.QueryRow(db.Rebind("SELECT id FROM notify_deliveries WHERE event_id = ? AND channel = 'mobile'"), noticeEvent).Scan(&notice); err != nil {
			t.Fatal(err)
		}
		if err := notify.DeliverForTest(ctx, f.n, notice); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Reader().Delivery(ctx, notice); got.Status != "sent" || len(mobile.sent) != 1 {
			t.Fatalf("a security notice in quiet hours: %+v, %d sent", got, len(mobile.sent))
		}
		mobile.sent = nil

		c.set(time.Date(2026, 6, 2, 7, 0, 0, 0, time.UTC))
		if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Reader().Delivery(ctx, d.ID); got.Status != "sent" || len(mobile.sent) != 1 {
			t.Fatalf("after quiet hours: %+v, %d sent", got, len(mobile.sent))
		}

		// Read suppression: the chat message's job waits ChatDelay.
		d = delivery("chat.message", map[string]any{"title": "Bea", "text": "Are you there?"})
		scheduled := deliverJobDue(t, db, d.ID)
		if want := d.CreatedAt.Add(notify.ChatDelay); !scheduled.Equal(want) {
			t.Errorf("chat message job due %v, want %v (ChatDelay after)", scheduled, want)
		}
		page, err := f.n.List(ctx, bob, 0, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.n.SetRead(ctx, bob, page.Items[0].ID, true); err != nil {
			t.Fatal(err)
		}
		if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Reader().Delivery(ctx, d.ID); got.Status != "skipped" || got.Reason != notify.ReasonRead || len(mobile.sent) != 1 {
			t.Fatalf("read in the centre first: %+v, %d sent", got, len(mobile.sent))
		}
	})
}

// deliverJobDue is when the (first) delivery job of delivery id is due.
func deliverJobDue(t *testing.T, db *store.DB, id int64) time.Time {
	t.Helper()
	due := deliverJobsDue(t, db, id)
	if len(due) == 0 {
		t.Fatalf("no job for delivery %d", id)
	}
	return due[0]
}

// deliverJobsDue is when each delivery job of delivery id is due.
func deliverJobsDue(t *testing.T, db *store.DB, id int64) []time.Time {
	t.Helper()
	var out []time.Time
	args := "args::text" // River keeps args as JSONB on both engines
	if db.Engine == store.SQLite {
		args = "json(args)"
	}
	rows, err := db.R.Query("SELECT " + args + ", scheduled_at FROM river_job WHERE kind = 'notify.deliver'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var args []byte
		var at any
		if err := rows.Scan(&args, &at); err != nil {
			t.Fatal(err)
		}
		var a notify.DeliverArgs
		if err := json.Unmarshal(args, &a); err != nil || a.DeliveryID != id {
			continue
		}
		switch v := at.(type) {
		case time.Time:
			out = append(out, v)
		case string:
			parsed := false
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999"} {
				if ts, err := time.Parse(layout, v); err == nil {
					out, parsed = append(out, ts), true
					break
				}
			}
			if !parsed {
				t.Fatalf("scheduled_at %q", v)
			}
		default:
			t.Fatalf("scheduled_at %T %v", at, at)
		}
	}
	return out
}
