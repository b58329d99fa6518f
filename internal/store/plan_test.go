package store_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestQueriesUseIndexes: the queries that look through big tables —
// pruning, the digest's due people and contents, the delivery log — are
// planned on an index, never a full scan of the table (a benchmark found
// the hourly prune reading all 10 million notifications of a seeded
// database, through ORDER BY id).
func TestQueriesUseIndexes(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	db.SetQueryHook(func(q string) {
		mu.Lock()
		seen = append(seen, q)
		mu.Unlock()
	})
	now := time.Now()
	err := db.InTx(ctx, func(q *store.Q) error {
		if _, err := q.PruneNotifications(ctx, now, 1000); err != nil {
			return err
		}
		if _, err := q.PruneNotifyEvents(ctx, now, 1000); err != nil {
			return err
		}
		if _, err := q.DueDigests(ctx, now, 500); err != nil {
			return err
		}
		if _, err := q.DigestItems(ctx, "2026-06-01", []int64{1, 2}, now, 5); err != nil {
			return err
		}
		if _, err := q.QueuedDigests(ctx, "2026-06-01", []int64{1, 2}); err != nil {
			return err
		}
		_, err := q.WorkspaceDeliveries(ctx, 1, store.DeliveryFilter{UserID: 2, Status: "failed"}, 50)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.SetQueryHook(nil)
	// A full scan of a big table, by its name or the alias the queries
	// give it ("SCAN x" of a subquery's rows is fine).
	big := regexp.MustCompile(`^SCAN (notifications|notify_events|notify_settings|notify_deliveries|notify_digests|users|[nesdgu])$`)
	for _, q := range seen {
		if !strings.HasPrefix(strings.TrimSpace(q), "SELECT") && !strings.Contains(q, "WHERE id IN (SELECT") {
			continue
		}
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = 0
		}
		rows, err := db.R.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			if big.MatchString(detail) {
				t.Errorf("full scan %q in:\n%s", detail, q)
			}
		}
		rows.Close()
	}
}
