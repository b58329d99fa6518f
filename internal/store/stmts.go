package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// On SQLite, parsing a statement costs more than running a point read
// (a quarter of GET /api/v1/me's time went to it), so each pool keeps its
// statements prepared. PostgreSQL's driver caches them per connection
// itself. Queries built with a varying number of placeholders make many
// texts: past maxStmts a pool prepares no more and runs the rest as
// before.
const maxStmts = 2000

type stmtCache struct {
	pool *sql.DB
	mu   sync.RWMutex
	m    map[string]*sql.Stmt
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}}
}

// get returns query prepared on the pool, nil when it is not prepared
// yet and prepare is false, when the cache is full, or when the statement
// does not prepare (it then runs unprepared and fails there if it must).
// Inside a transaction nothing is prepared: on SQLite the transaction
// holds the writer's one connection, which preparing on the pool would
// wait for.
func (c *stmtCache) get(ctx context.Context, query string, prepare bool) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st, ok := c.m[query]
	full := len(c.m) >= maxStmts
	c.mu.RUnlock()
	if ok || full || !prepare {
		return st
	}
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prior, ok := c.m[query]; ok {
		_ = st.Close()
		return prior
	}
	if len(c.m) >= maxStmts {
		_ = st.Close()
		return nil
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// stmt is query prepared for q: on q's pool, or bound to q's transaction.
// A transaction's query not prepared yet is noted, and prepared on the
// pool once the transaction has ended and freed the connection: a
// statement run only inside transactions (the intake of events) would
// otherwise be parsed every time.
func (q *Q) stmt(ctx context.Context, query string) *sql.Stmt {
	return q.stmtOf(ctx, query, false)
}

// stmtOf is stmt; sliced says the text is one of the few a chunks loop
// makes (a power-of-two count of rows or ids), worth keeping prepared
// however many placeholders it has.
func (q *Q) stmtOf(ctx context.Context, query string, sliced bool) *sql.Stmt {
	st := q.stmts.get(ctx, query, q.Tx == nil)
	if q.Tx == nil {
		return st
	}
	if st == nil {
		if q.stmts != nil && (sliced || preparable(query)) && !bookkeeping(query) {
			q.unprepared = append(q.unprepared, query)
		}
		return nil
	}
	return q.Tx.StmtContext(ctx, st)
}

// maxPreparedParams leaves multi-row statements a transaction ran
// unprepared after it, unless a chunks loop built them (queryRows,
// execRows: a few power-of-two lengths): other such texts change with the
// number of rows, each is run a few times at most, and they would fill
// the cache that hot point reads need.
const maxPreparedParams = 32

// preparable says whether a query a transaction ran is worth preparing
// for later: not a multi-row text of varying length.
func preparable(query string) bool {
	return strings.Count(query, "?")+strings.Count(query, "$") <= maxPreparedParams
}

// bookkeeping says whether a query is savepoint bookkeeping, never kept.
func bookkeeping(query string) bool {
	for _, p := range []string{"SAVEPOINT", "RELEASE", "ROLLBACK"} {
		if strings.HasPrefix(query, p) {
			return true
		}
	}
	return false
}

// prepareAll prepares queries on the pool (the texts a transaction ran
// unprepared), as far as the cache has room.
func (c *stmtCache) prepareAll(ctx context.Context, queries []string) {
	for _, query := range queries {
		c.get(ctx, query, true)
	}
}
