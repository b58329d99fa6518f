// Package store is Roster's database: connections, migrations and every
// query, for both engines. SQL is written once with ? placeholders; the few
// differences between SQLite and PostgreSQL are isolated in dialect.go.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// Engine names a database engine.
type Engine string

// Engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open Roster database. On SQLite it keeps one writer connection
// (SQLite allows one writer at a time; queueing in Go beats SQLITE_BUSY) and
// a pool of read-only connections; on PostgreSQL both are the same pool.
type DB struct {
	Engine Engine
	// W runs transactions and writes, and is the pool the job queue uses.
	W *sql.DB
	// R serves reads that need no transaction.
	R *sql.DB
	// Pgx is the native pool on PostgreSQL (for LISTEN); nil on SQLite.
	Pgx *pgxpool.Pool

	now func() time.Time
	// rStmts and wStmts keep prepared statements on SQLite (see stmts.go).
	rStmts, wStmts *stmtCache
	// seen, when set, is told every query this DB runs (tests count
	// them; see SetQueryHook).
	seen atomic.Pointer[func(query string)]
	// bus is the instance's caches (see changes.go).
	bus *changeBus
	// checkpoints copies SQLite's log into its file (see checkpoint.go).
	checkpoints *checkpointer
}

// SetQueryHook has fn told the text of every query run from now on, nil to
// stop. Tests use it to hold a flow to the queries it should make.
func (db *DB) SetQueryHook(fn func(query string)) {
	if fn == nil {
		db.seen.Store(nil)
		return
	}
	db.seen.Store(&fn)
}

// sql rebinds query for the engine and tells the hook, if any.
func (db *DB) sql(query string) string {
	if fn := db.seen.Load(); fn != nil {
		(*fn)(query)
	}
	return db.rebind(query)
}

// Open connects to the database named by databaseURL: empty means SQLite in
// dataDir/roster.db; a postgres:// or postgresql:// URL means PostgreSQL.
// It does not migrate; call Migrate.
func Open(ctx context.Context, databaseURL, dataDir string, opts ...Option) (*DB, error) {
	o := openOptions{synchronous: SyncNormal}
	for _, opt := range opts {
		opt(&o)
	}
	if o.synchronous != SyncNormal && o.synchronous != SyncFull {
		return nil, fmt.Errorf("SQLite synchronous must be %s or %s, not %q", SyncNormal, SyncFull, o.synchronous)
	}
	switch {
	case databaseURL == "":
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
		return openSQLite(ctx, filepath.Join(dataDir, SQLiteFile), o)
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//"), o)
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL)
	default:
		return nil, fmt.Errorf("unsupported database URL scheme (want postgres:// or empty for SQLite)")
	}
}

// Option adjusts how Open opens the database.
type Option func(*openOptions)

type openOptions struct{ synchronous string }

// SQLite's synchronous settings Roster offers (docs/reliability.md).
// Normal, the default, survives a crash of the process (kill -9) with every
// acknowledged write, and a power loss or system crash without corruption,
// but the writes of the last moments before a power loss may be gone. Full
// syncs the log at every commit: acknowledged writes survive a power loss
// too, at the cost of one fsync per commit.
const (
	SyncNormal = "normal"
	SyncFull   = "full"
)

// SQLiteSynchronous sets SQLite's synchronous setting, SyncNormal or
// SyncFull ("" keeps SyncNormal); PostgreSQL ignores it.
func SQLiteSynchronous(mode string) Option {
	return func(o *openOptions) {
		if mode != "" {
			o.synchronous = mode
		}
	}
}

func openSQLite(ctx context.Context, path string, o openOptions) (*DB, error) {
	pragmas := "_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(" + o.synchronous + ")" +
		"&_pragma=wal_autocheckpoint(" + strconv.Itoa(writerCheckpointPages) + ")" +
		"&_pragma=journal_size_limit(" + strconv.Itoa(walSizeLimit) + ")&_txlock=immediate"
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas)
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite readers: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	c, err := startCheckpointer(path)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	db := &DB{Engine: SQLite, W: w, R: r, now: time.Now, rStmts: newStmtCache(r), wStmts: newStmtCache(w), bus: &changeBus{}, checkpoints: c}
	db.bus.live.Store(true) // one instance: every change is made here
	return db, nil
}

// minPoolConns is the smallest PostgreSQL pool by default, and
// poolReserved the part of it left to the listeners and River.
const (
	minPoolConns = 10
	poolReserved = 5
)

func openPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	// Some of the pool's connections are held for good by LISTENs (the
	// caches' changes, live events, River's notifier), and River's
	// producers take some for moments; database/sql gets the rest, never
	// more: an open of its own waiting inside the pool had no end once
	// the listeners reconnected first after a restart, and its request
	// hung. pool_max_conns in the URL still rules; the default is at
	// least minPoolConns.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, minPoolConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	db.SetMaxOpenConns(int(max(cfg.MaxConns-poolReserved, 2)))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	// Caches stay off until ListenChanges hears other instances.
	return &DB{Engine: Postgres, W: db, R: db, Pgx: pool, now: time.Now, bus: &changeBus{}}, nil
}

// Close closes every pool.
func (db *DB) Close() error {
	db.rStmts.close()
	db.wStmts.close()
	var errs []error
	// A write-ahead log left behind is read back at the next start.
	// SQLite's last connection to close checkpoints and removes it, which
	// the read-only readers cannot do: the writer checkpoints first (best
	// effort: a reader still in a query keeps its part), and closes last.
	if db.Engine == SQLite {
		errs = append(errs, db.checkpoints.stop())
		_, _ = db.W.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
	if db.R != db.W {
		errs = append(errs, db.R.Close())
	}
	errs = append(errs, db.W.Close())
	if db.Pgx != nil {
		db.Pgx.Close()
	}
	return errors.Join(errs...)
}

// SetClock replaces the clock, for tests.
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// Now returns the database layer's current time.
func (db *DB) Now() time.Time { return db.now() }

// Ping checks the database answers, for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.R.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Migrate applies Roster's embedded migrations for the engine.
func (db *DB) Migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	dialect := goose.DialectSQLite3
	if db.Engine == Postgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, db.W, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Reader returns queries that run on the read pool.
func (db *DB) Reader() *Q { return &Q{db: db, x: db.R, stmts: db.rStmts} }

// Writer returns queries that run outside a transaction on the writer.
func (db *DB) Writer() *Q { return &Q{db: db, x: db.W, stmts: db.wStmts} }

// InTx runs fn in a transaction, committing when it returns nil. Jobs
// enqueued on q.Tx commit or vanish with it.
func (db *DB) InTx(ctx context.Context, fn func(q *Q) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	q := &Q{db: db, x: tx, Tx: tx, stmts: db.wStmts}
	defer func() {
		// A panic in fn (recovered by a caller: River's Work, intake's
		// group) must not leave the transaction open: with a context that
		// never ends, nothing else would roll it back, and on SQLite it
		// holds the only writer.
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(q); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(q.changes) > 0 {
		db.bus.drop(q.changes)
	}
	if len(q.unprepared) > 0 {
		db.wStmts.prepareAll(context.WithoutCancel(ctx), q.unprepared)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Q runs queries on a pool or inside a transaction.
type Q struct {
	db *DB
	x  execer
	// Tx is the open transaction, or nil outside InTx.
	Tx    *sql.Tx
	stmts *stmtCache // nil: nothing kept prepared (PostgreSQL)
	// changes are the cache tags this transaction's writes sent, for
	// the instance's caches once it commits.
	changes []string
	// unprepared are the texts this transaction ran unprepared, to
	// prepare once it has ended (SQLite; see stmts.go).
	unprepared []string
}

func (q *Q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = q.db.sql(query)
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.x.ExecContext(ctx, query, args...)
}

func (q *Q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = q.db.sql(query)
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.x.QueryContext(ctx, query, args...)
}

// queryRows and execRows are query and exec for the statements of a
// chunks loop, whose few texts are kept prepared whatever their length.
func (q *Q) queryRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = q.db.sql(query)
	if st := q.stmtOf(ctx, query, true); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.x.QueryContext(ctx, query, args...)
}

func (q *Q) execRows(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = q.db.sql(query)
	if st := q.stmtOf(ctx, query, true); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.x.ExecContext(ctx, query, args...)
}

func (q *Q) row(ctx context.Context, query string, args ...any) *sql.Row {
	query = q.db.sql(query)
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.x.QueryRowContext(ctx, query, args...)
}

// insert runs an INSERT ... RETURNING id and returns the id.
func (q *Q) insert(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	err := q.row(ctx, query+" RETURNING id", args...).Scan(&id)
	return id, err
}

func (q *Q) now() time.Time { return q.db.now() }

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect reads every row of a query with scan; what names the query in
// errors.
func collect[T any](rows *sql.Rows, err error, what string, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// Savepoint runs fn inside a savepoint of the transaction q: when fn
// fails, what it wrote is undone and the transaction goes on (on
// PostgreSQL, a failed statement otherwise spoils the whole transaction).
func (q *Q) Savepoint(ctx context.Context, name string, fn func() error) error {
	if q.Tx == nil {
		return errors.New("store: savepoint outside a transaction")
	}
	if _, err := q.exec(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if _, rerr := q.exec(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		return err
	}
	if _, err := q.exec(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}
