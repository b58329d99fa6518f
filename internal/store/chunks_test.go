package store_test

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestFanOutInsertsStayPrepared: the multi-row inserts of a fan-out come
// in power-of-two lengths, so after transactions of every size from 1 to
// 40 queued and as many skipped deliveries the writer keeps six texts of
// each insert (1, 2, 4, 8, 16 and 32 rows: the queued ones read their ids
// back, the skipped ones nothing) prepared, and parses none of them
// again. A text per length (40) would fill the cache; none kept would
// parse each at every event. Only the queued ones come back, each with
// its id; the skipped ones are stored too.
func TestFanOutInsertsStayPrepared(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	ws, u := seed(t, db)
	for n := 1; n <= 40; n++ {
		err := db.InTx(ctx, func(q *store.Q) error {
			var ds []*core.Delivery
			for i := range n {
				ev := &core.NotifyEvent{WorkspaceID: ws.ID, Type: "task.assigned", Recipients: []int64{u.ID}, ActorID: u.ID,
					OccurredAt: db.Now(), DedupeKey: fmt.Sprintf("%d-%d", n, i)}
				if _, err := q.InsertNotifyEvent(ctx, ev); err != nil {
					return err
				}
				ds = append(ds, &core.Delivery{WorkspaceID: ws.ID, EventID: ev.ID, UserID: u.ID, Channel: "email",
					Status: core.DeliveryQueued},
					&core.Delivery{WorkspaceID: ws.ID, EventID: ev.ID, UserID: u.ID, Channel: "telegram",
						Status: core.DeliverySkipped, Reason: "preference"})
			}
			made, err := q.InsertDeliveries(ctx, ds)
			if err != nil {
				return err
			}
			if len(made) != n {
				return fmt.Errorf("%d of %d queued deliveries returned", len(made), n)
			}
			for _, d := range made {
				if d.Status != core.DeliveryQueued || d.ID == 0 {
					return fmt.Errorf("returned %s delivery with id %d", d.Status, d.ID)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(n, err)
		}
	}
	var skipped int
	if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM notify_deliveries WHERE status = 'skipped' AND channel = 'telegram'").Scan(&skipped); err != nil || skipped != 40*41/2 {
		t.Errorf("%d skipped deliveries stored (%v), want %d", skipped, err, 40*41/2)
	}
	rows := map[bool][]int{}
	for _, text := range db.WriterStatements() {
		if strings.HasPrefix(text, "INSERT INTO notify_deliveries") {
			returning := strings.Contains(text, "RETURNING")
			rows[returning] = append(rows[returning], strings.Count(text, "(?"))
		}
	}
	for _, returning := range []bool{true, false} {
		slices.Sort(rows[returning])
		if fmt.Sprint(rows[returning]) != fmt.Sprint([]int{1, 2, 4, 8, 16, 32}) {
			t.Errorf("delivery inserts (returning ids: %t) kept prepared for %v rows, want 1, 2, 4, 8, 16 and 32", returning, rows[returning])
		}
	}
}

// TestChunksArePowersOfTwo: every slice a chunks loop yields has a
// power-of-two length, at most the cap, and together they are the input.
func TestChunksArePowersOfTwo(t *testing.T) {
	for n := range 1100 {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		next := 0
		for c := range store.Chunks(s, 256) {
			if len(c) > 256 || bits.OnesCount(uint(len(c))) != 1 || c[0] != next {
				t.Fatalf("n=%d: a slice of %d from %d", n, len(c), c[0])
			}
			next += len(c)
		}
		if next != n {
			t.Fatalf("n=%d: slices cover %d", n, next)
		}
	}
}
