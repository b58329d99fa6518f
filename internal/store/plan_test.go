package store_test

import (
	"context"
	"fmt"
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
	now := time.Now()
	seen := queriesOf(t, db, func(q *store.Q) error {
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
	// A full scan of a big table, by its name or the alias the queries
	// give it ("SCAN x" of a subquery's rows is fine).
	big := regexp.MustCompile(`^SCAN (notifications|notify_events|notify_settings|notify_deliveries|notify_digests|users|[nesdgu])$`)
	for _, q := range seen {
		if !strings.HasPrefix(strings.TrimSpace(q), "SELECT") && !strings.Contains(q, "WHERE id IN (SELECT") {
			continue
		}
		for _, detail := range planOf(t, db, q) {
			if big.MatchString(detail) {
				t.Errorf("full scan %q in:\n%s", detail, q)
			}
		}
	}
}

// TestRecipientLookupsSeek: the fan-out's lookups of people by id, the
// page of a workspace's people after an id, and the import's lookup by
// email seek what they ask for, in id order without a sort. SQLite had planned each on the
// workspace's name index with only workspace_id as its key, reading the
// whole workspace for every page of an event to everyone (a 10,000-person
// fan-out spent a third of its time there).
func TestRecipientLookupsSeek(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	ids := make([]int64, 128) // the fan-out asks in chunks of up to 512
	emails := make([]string, 32)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	for i := range emails {
		emails[i] = fmt.Sprintf("p%d@example.com", i)
	}
	seen := queriesOf(t, db, func(q *store.Q) error {
		if _, err := q.ActiveUserIDs(ctx, 1, 0, 250); err != nil {
			return err
		}
		if _, err := q.UsersByID(ctx, 1, ids); err != nil {
			return err
		}
		_, err := q.UserIDsByEmail(ctx, 1, emails)
		return err
	})
	if len(seen) != 3 {
		t.Fatalf("%d queries, want 3: %q", len(seen), seen)
	}
	wholeWorkspace := regexp.MustCompile(`^(SCAN users|SEARCH users USING (COVERING )?INDEX \w+ \(workspace_id=\?\))$`)
	for _, q := range seen {
		for _, detail := range planOf(t, db, q) {
			if wholeWorkspace.MatchString(detail) {
				t.Errorf("reads the whole workspace (%q):\n%s", detail, q)
			}
			// In id order from their index or the primary key, not sorted
			// afterwards (a page of the workspace, a chunk of ids).
			if strings.Contains(detail, "TEMP B-TREE") {
				t.Errorf("sorts what it read (%q):\n%s", detail, q)
			}
		}
	}
}

// queriesOf returns the queries run sends, in one transaction.
func queriesOf(t *testing.T, db *store.DB, run func(q *store.Q) error) []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	db.SetQueryHook(func(q string) {
		mu.Lock()
		seen = append(seen, q)
		mu.Unlock()
	})
	defer db.SetQueryHook(nil)
	if err := db.InTx(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	return seen
}

// planOf returns the details of SQLite's plan for q, its parameters zero.
func planOf(t *testing.T, db *store.DB, q string) []string {
	t.Helper()
	args := make([]any, strings.Count(q, "?"))
	for i := range args {
		args[i] = 0
	}
	rows, err := db.R.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		details = append(details, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return details
}
