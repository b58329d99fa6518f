package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestStatementCache: SQLite reads are prepared once and reused; inside a
// transaction nothing new is prepared (the transaction holds the writer's
// one connection: preparing on the pool would wait for it forever), and
// the cache stops growing at maxStmts.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", filepath.Join(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	size := func(c *stmtCache) int { c.mu.RLock(); defer c.mu.RUnlock(); return len(c.m) }
	for range 3 {
		var n int
		if err := db.Reader().row(ctx, "SELECT 1 + ?", 1).Scan(&n); err != nil || n != 2 {
			t.Fatal(n, err)
		}
	}
	if got := size(db.rStmts); got != 1 {
		t.Fatalf("%d statements kept after one query run three times", got)
	}
	// In a transaction nothing is prepared (the writer's one connection
	// is the transaction's); what it ran unprepared is prepared once it
	// has committed, and the next transaction uses it. Savepoints are not
	// kept.
	inTx := func() {
		t.Helper()
		err := db.InTx(ctx, func(q *Q) error {
			return q.Savepoint(ctx, "sp", func() error {
				var n int
				if size(db.wStmts) != 0 {
					t.Fatal("a statement was prepared inside the transaction")
				}
				return q.row(ctx, "SELECT 2 + ?", 1).Scan(&n)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	inTx()
	if got := size(db.wStmts); got != 1 {
		t.Fatalf("after the transaction: %d statements prepared on the writer, want 1", got)
	}
	db.wStmts.close()
	db.wStmts = newStmtCache(db.W)
	inTx()
	if got := size(db.wStmts); got != 1 {
		t.Fatalf("%d statements kept, want 1", got)
	}
	for i := range maxStmts + 10 {
		var n int
		if err := db.Reader().row(ctx, fmt.Sprintf("SELECT %d + ?", i), 1).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if got := size(db.rStmts); got != maxStmts {
		t.Fatalf("%d statements kept, want the cap %d", got, maxStmts)
	}
}
