package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestPeerThatNeverRecovers: a push service answering "try again in a
// year" with a 100 kB error of broken UTF-8 keeps the delivery queued,
// snoozed no further than the end of its retry window, with a short valid
// error kept; at the window's end the next attempt fails it, and admins
// see it failed with that error. Unbounded, the year's snooze left the
// delivery queued for ever, and the error was stored whole (PostgreSQL
// refuses the broken bytes).
func TestPeerThatNeverRecovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		huge := strings.Repeat("é", 50_000) + "\xff\xfe"
		mobile := &fakeChannel{ch: notify.Mobile}
		for range 3 {
			mobile.errs = append(mobile.errs, &notify.SendError{Err: errors.New("push service answered 429: " + huge), RetryAfter: 365 * 24 * time.Hour})
		}
		f := newFixture(t, db, 1, mobile)
		c := &clock{t: time.Now().UTC().Truncate(time.Second)}
		notify.SetClockForTest(f.n, c.now)
		db.SetClock(c.now)
		bob := f.users[0]
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "task.assigned", Recipients: []int64{bob.ID},
			Data: map[string]any{"title": "Call Bea", "from": "Ada"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
			t.Fatal(err)
		}
		var d *core.Delivery
		ds, _ := db.Reader().Deliveries(ctx, f.ws.ID, bob.ID, 0, 50)
		for _, x := range ds {
			if x.Channel == "mobile" {
				d = x
			}
		}
		if d == nil {
			t.Fatal("no mobile delivery")
		}
		kept := func(status string) {
			t.Helper()
			got, err := db.Reader().Delivery(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != status || len(got.LastError) > 1000 || !utf8.ValidString(got.LastError) ||
				!strings.HasPrefix(got.LastError, "push service answered 429: éé") || !strings.HasSuffix(got.LastError, "…") {
				t.Fatalf("delivery %s with an error of %d bytes (%.40q…), want %s with at most 1,000 valid ones", got.Status, len(got.LastError), got.LastError, status)
			}
		}
		err = notify.DeliverForTest(ctx, f.n, d.ID)
		var snooze *river.JobSnoozeError
		if !errors.As(err, &snooze) || snooze.Duration != notify.DefaultRetryFor {
			t.Fatalf("first attempt: %v, want a snooze of the retry window (%s)", err, notify.DefaultRetryFor)
		}
		kept("queued")
		c.set(c.now().Add(notify.DefaultRetryFor - time.Hour))
		if err := notify.DeliverForTest(ctx, f.n, d.ID); !errors.As(err, &snooze) || snooze.Duration != time.Hour {
			t.Fatalf("an hour before the window ends: %v, want a snooze of 1h", err)
		}
		c.set(c.now().Add(time.Hour))
		if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
			t.Fatalf("at the window's end: %v, want the delivery failed", err)
		}
		kept("failed")
		failed, err := f.n.DeliveryLog(ctx, f.admin, notify.DeliveryFilter{Status: core.DeliveryFailed}, 50)
		if err != nil || len(failed) != 1 || failed[0].ID != d.ID {
			t.Fatalf("admins' failed deliveries: %+v (%v)", failed, err)
		}
	})
}
