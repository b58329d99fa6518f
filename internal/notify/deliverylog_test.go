package notify_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestDeliveryLogAndRetry: admins list their workspace's deliveries by
// person, channel and status, never another workspace's; a failed one
// can be sent again once (it is queued with its job), only by an admin
// of its workspace; a person sees where each of their notifications went.
func TestDeliveryLogAndRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mobile := &fakeChannel{ch: notify.Mobile}
		f := newFixture(t, db, 2, mobile)
		bob, cy := f.users[0], f.users[1]
		stranger := f.otherWorkspace(t)
		mobile.errs = []error{&notify.SendError{Err: errors.New("INVALID_ARGUMENT"), Permanent: true}}
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "task.assigned", Recipients: []int64{bob.ID, cy.ID},
			Data: map[string]any{"title": "Call Bea", "from": "Ada"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
			t.Fatal(err)
		}
		var failed *core.Delivery
		for _, u := range []*core.User{bob, cy} {
			ds, _ := db.Reader().Deliveries(ctx, f.ws.ID, u.ID, 0, 10)
			for _, d := range ds {
				if d.Channel == "mobile" {
					if err := notify.DeliverForTest(ctx, f.n, d.ID); err != nil {
						t.Fatal(err)
					}
					if u == bob {
						failed = d
					}
				}
			}
		}
		log, err := f.n.DeliveryLog(ctx, f.admin, notify.DeliveryFilter{Status: "failed"}, 50)
		if err != nil || len(log) != 1 || log[0].ID != failed.ID || log[0].UserName != bob.Name || log[0].Title != "New task: Call Bea" ||
			log[0].LastError != "INVALID_ARGUMENT" {
			t.Fatalf("failed deliveries: %+v (%v)", log, err)
		}
		if log, _ := f.n.DeliveryLog(ctx, f.admin, notify.DeliveryFilter{UserID: cy.ID, Channel: "mobile"}, 50); len(log) != 1 || log[0].Status != "sent" {
			t.Fatalf("Cy's mobile deliveries: %+v", log)
		}
		if _, err := f.n.DeliveryLog(ctx, f.admin, notify.DeliveryFilter{Channel: "fax"}, 50); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("unknown channel: %v", err)
		}
		if _, err := f.n.DeliveryLog(ctx, f.admin, notify.DeliveryFilter{UserID: stranger.ID}, 50); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("another workspace's person: %v", err)
		}
		if log, _ := f.n.DeliveryLog(ctx, stranger, notify.DeliveryFilter{}, 50); len(log) != 0 {
			t.Errorf("another workspace's admin sees %d deliveries", len(log))
		}
		if _, err := f.n.DeliveryLog(ctx, bob, notify.DeliveryFilter{}, 50); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Errorf("a member reads the log: %v", err)
		}

		// Retry: only an admin of the workspace, only a failed delivery.
		if _, err := f.n.RetryDelivery(ctx, bob, failed.ID); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Errorf("a member retries: %v", err)
		}
		if _, err := f.n.RetryDelivery(ctx, stranger, failed.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("another workspace's admin retries: %v", err)
		}
		// Twenty admins' clicks at once (two tabs, a double click): one
		// retry is queued, the others are told it is no longer failed.
		var wg sync.WaitGroup
		var mu sync.Mutex
		queued, refused := 0, 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := f.n.RetryDelivery(ctx, f.admin, failed.ID)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && d.Status == "queued":
					queued++
				case errors.Is(err, notify.ErrNotRetryable):
					refused++
				default:
					t.Errorf("retry: %+v %v", d, err)
				}
			}()
		}
		wg.Wait()
		if queued != 1 || refused != 19 {
			t.Fatalf("20 retries at once: %d queued, %d refused", queued, refused)
		}
		if _, err := f.n.RetryDelivery(ctx, f.admin, failed.ID); !errors.Is(err, notify.ErrNotRetryable) {
			t.Errorf("retrying a queued delivery: %v", err)
		}
		if jobs := deliverJobsDue(t, db, failed.ID); len(jobs) != 2 {
			t.Errorf("%d jobs for the retried delivery, want its first and the retry's", len(jobs))
		}
		if err := notify.DeliverForTest(ctx, f.n, failed.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Reader().Delivery(ctx, failed.ID); got.Status != "sent" {
			t.Errorf("after the retry: %+v", got)
		}

		// The person's view: each notification's deliveries, only theirs.
		page, _ := f.n.List(ctx, bob, 0, "", 10)
		by, err := f.n.DeliveriesOf(ctx, bob, page.Items)
		if err != nil || len(by[page.Items[0].ID]) != len(notify.Channels)-1 {
			t.Fatalf("Bob's deliveries: %v (%v)", by, err)
		}
		// In the channels' order, whichever were queued or skipped (the
		// skipped are stored first, in a statement of their own).
		var order []string
		for _, d := range by[page.Items[0].ID] {
			order = append(order, d.Channel)
		}
		var want []string
		for _, ch := range notify.Channels[1:] {
			want = append(want, string(ch))
		}
		if fmt.Sprint(order) != fmt.Sprint(want) {
			t.Errorf("Bob's deliveries in the order %v, want %v", order, want)
		}
		if _, err := f.n.NotificationDeliveries(ctx, cy, page.Items[0].ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("Cy reads Bob's notification's deliveries: %v", err)
		}
	})
}
