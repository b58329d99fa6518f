package notify_test

// Tests from an adversarial review of the notification engine: each
// failed on the code before its fix.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// The issue: "dedupe_key is permanent: one event per (workspace,
// dedupe_key), ever". Prune deletes old events and their keys with them.
func TestReviewDedupeKeySurvivesPrune(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		e := notify.EventInput{Type: "call.missed", Recipients: []int64{f.users[0].ID}, Data: map[string]any{"title": "+1 555"}, DedupeKey: "call-7"}
		first, err := f.n.Intake(ctx, f.admin, []notify.EventInput{e})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.n.Fanout(ctx, first[0].ID); err != nil {
			t.Fatal(err)
		}
		// 91 days later the retention job runs.
		if _, err := f.n.Prune(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		e.Data = map[string]any{"title": "+1 555"}
		again, err := f.n.Intake(ctx, f.admin, []notify.EventInput{e})
		if err != nil {
			t.Fatal(err)
		}
		if !again[0].Duplicate {
			t.Fatalf("dedupe_key %q accepted again after the prune: new event %d (first %d)", e.DedupeKey, again[0].ID, first[0].ID)
		}
	})
}

// A user whose address is longer than MaxTitle (200) characters, which
// core.NormalizeEmail accepts (up to 254), cannot change their password,
// turn on two-step verification, ...: the notice follower fails the
// change's transaction.
func TestReviewLongEmailSecurityNoticeFailsTheChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		bob := f.users[0]
		bob.Email = strings.Repeat("b", 64) + "@" + strings.Repeat("a", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 40) + ".example"
		if _, ok := core.NormalizeEmail(bob.Email); !ok {
			t.Fatalf("test address not valid: %d chars", len(bob.Email))
		}
		err := db.InTx(ctx, func(q *store.Q) error {
			return f.set.Events.Record(ctx, q, core.Event{Action: core.AuditPasswordChanged, WorkspaceID: f.ws.ID, ActorID: bob.ID, TargetID: bob.ID,
				IP: "192.0.2.7", Notice: core.NoticePasswordChanged, Recipient: bob})
		})
		if err != nil {
			t.Fatalf("password change of a user with a %d-char address fails: %v", len(bob.Email), err)
		}
	})
}

// One caller's dedupe_key holding a NUL fails the whole group's
// transaction on PostgreSQL: a 500 for it (not 422) and for the callers
// that happened to share its transaction.
func TestReviewNulDedupeKeyPoisonsGroup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		const n = 200
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				e := notify.EventInput{Type: "system.report", Recipients: []int64{f.users[0].ID}, Data: map[string]any{"title": fmt.Sprint("R", i)}}
				if i%20 == 7 {
					e.DedupeKey = "a\x00b"
				}
				_, errs[i] = f.n.Intake(ctx, f.admin, []notify.EventInput{e})
			})
		}
		wg.Wait()
		var badNul, innocent int
		var sample error
		for i, err := range errs {
			if i%20 == 7 {
				if err != nil && core.ErrorCode(err) != core.EINVALID {
					badNul++
					sample = err
				}
				continue
			}
			if err != nil {
				innocent++
				sample = err
			}
		}
		if badNul > 0 || innocent > 0 {
			t.Fatalf("NUL dedupe keys: %d callers got a non-422 error, %d innocent callers failed with them (%v)", badNul, innocent, sample)
		}
	})
}

// Requests with the same Idempotency-Key whose intake is refused (the key
// is released each time) race the claim's read-back: each gets the
// refusal or 409, never an internal error.
func TestReviewIdempotencyReleaseRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		in := []notify.EventInput{{Type: "system.report", Recipients: []int64{999999}, Data: map[string]any{"title": "R"}}}
		answer := func([]notify.Accepted) (notify.Answer, error) { return notify.Answer{Status: 202}, nil }
		var internal atomic.Int64
		var sample atomic.Value
		deadline := time.Now().Add(4 * time.Second)
		for round := 0; time.Now().Before(deadline) && internal.Load() == 0; round++ {
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					_, err := f.n.IntakeOnce(ctx, f.admin, in, fmt.Sprint("k", round), []byte("same body"), answer)
					if err != nil && !errors.Is(err, notify.ErrKeyInProgress) && core.ErrorCode(err) != core.EINVALID {
						internal.Add(1)
						sample.Store(err)
					}
				})
			}
			wg.Wait()
		}
		if internal.Load() > 0 {
			t.Fatalf("%d requests got an internal error from the idempotency claim: %v", internal.Load(), sample.Load())
		}
	})
}

// PostgreSQL, READ COMMITTED: the prune reads read states, then adjusts the
// counters; a mark-read committed in between is counted twice.
func TestReviewPruneRacesMarkRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if db.Engine != store.Postgres {
			t.Skip("SQLite has one writer")
		}
		ctx := context.Background()
		f := newFixture(t, db, 1)
		bob := f.users[0]
		var ids []int64
		for i := range 2 {
			acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID}, Data: map[string]any{"title": fmt.Sprint("R", i)}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, acc[0].ID)
		}
		page, _ := f.n.List(ctx, bob, 0, "", 10)
		target := page.Items[0].ID
		// Mark read, holding the transaction open.
		marked, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- db.InTx(ctx, func(q *store.Q) error {
				if _, err := q.SetRead(ctx, bob.ID, target, true); err != nil {
					return err
				}
				close(marked)
				<-release
				return nil
			})
		}()
		<-marked
		pruned := make(chan error, 1)
		go func() {
			_, err := f.n.Prune(ctx, time.Now().Add(time.Hour)) // both are "old"
			pruned <- err
		}()
		time.Sleep(500 * time.Millisecond) // the prune has read, and waits on the inbox row
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-pruned; err != nil {
			t.Fatal(err)
		}
		var left int
		_ = db.R.QueryRow("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", bob.ID).Scan(&left)
		n, _ := f.n.UnreadCount(ctx, bob)
		if n != int64(left) {
			t.Fatalf("unread counter %d, but %d unread notifications exist", n, left)
		}
	})
}

// kill -9 right after the intake's commit: the answer was stored in the
// same transaction as the event, so a retry gets it and nothing runs
// twice. A claim left without an answer (a request that died before
// committing anything) is taken over after a minute, not 24 hours.
func TestReviewIdempotencyCrashBetweenCommitAndFinish(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		body := []byte(`{"type":"system.report"}`)
		in := []notify.EventInput{{Type: "system.report", Recipients: []int64{f.users[0].ID}, Data: map[string]any{"title": "R"}}}
		crashed := errors.New("kill -9")
		calls := 0
		answer := func(acc []notify.Accepted) (notify.Answer, error) {
			calls++
			if calls == 2 {
				panic(crashed) // after the commit: the process dies
			}
			return notify.Answer{Status: 202, Body: []byte(fmt.Sprint(acc[0].ID))}, nil
		}
		func() {
			defer func() { _ = recover() }()
			_, _ = f.n.IntakeOnce(ctx, f.admin, in, "k", body, answer)
		}()
		ans, err := f.n.IntakeOnce(ctx, f.admin, in, "k", body, func([]notify.Accepted) (notify.Answer, error) {
			t.Fatal("ran twice")
			return notify.Answer{}, nil
		})
		if err != nil || ans.Status != 202 || f.count(t, "notify_events") != 1 {
			t.Fatalf("retry after a crash: %+v %v, %d events", ans, err, f.count(t, "notify_events"))
		}
		// A bare claim (the request died before its transaction).
		sum := sha256.Sum256(body)
		if ok, _, err := db.Writer().ClaimIdempotencyKey(ctx, f.ws.ID, "k2", sum[:], time.Hour, time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
		ok := func([]notify.Accepted) (notify.Answer, error) { return notify.Answer{Status: 202}, nil }
		if _, err := f.n.IntakeOnce(ctx, f.admin, in, "k2", body, ok); !errors.Is(err, notify.ErrKeyInProgress) {
			t.Fatalf("a fresh claim: %v, want in progress", err)
		}
		db.SetClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
		if _, err := f.n.IntakeOnce(ctx, f.admin, in, "k2", body, ok); err != nil || f.count(t, "notify_events") != 2 {
			t.Fatalf("an abandoned claim: %v, %d events", err, f.count(t, "notify_events"))
		}
	})
}

// An Idempotency-Key that is not printable ASCII (HTTP allows obs-text
// bytes in a header value) is refused with 422.
func TestReviewIdempotencyKeyNotUTF8(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, 1)
		in := []notify.EventInput{{Type: "system.report", Recipients: []int64{f.users[0].ID}, Data: map[string]any{"title": "R"}}}
		_, err := f.n.IntakeOnce(ctx, f.admin, in, "k\xff", []byte("b"), func([]notify.Accepted) (notify.Answer, error) { return notify.Answer{Status: 202}, nil })
		if core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("key with a 0xFF byte: %v", err)
		}
	})
}
