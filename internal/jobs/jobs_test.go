package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite"

	"roster/internal/jobs"
	"roster/internal/testenv"
)

// waitTimeout bounds every wait; tests never assert on timing, they only
// give up eventually.
const waitTimeout = 30 * time.Second

// database is one engine's database, reopenable to simulate a restart.
type database struct {
	engine jobs.Engine
	// open returns fresh pools on the same database; they are closed at
	// test end.
	open func(t *testing.T) (*sql.DB, *pgxpool.Pool)
}

func sqliteDatabase(t *testing.T) database {
	path := filepath.Join(t.TempDir(), "roster.db")
	return database{
		engine: jobs.EngineSQLite,
		open: func(t *testing.T) (*sql.DB, *pgxpool.Pool) {
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			t.Cleanup(func() { db.Close() })
			return db, nil
		},
	}
}

// postgresDatabase uses a fresh database; with listen the queue gets a pgx
// pool for LISTEN, otherwise it polls.
func postgresDatabase(t *testing.T, listen bool) database {
	url := testenv.FreshPostgres(t)
	return database{
		engine: jobs.EnginePostgres,
		open: func(t *testing.T) (*sql.DB, *pgxpool.Pool) {
			db, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if !listen {
				return db, nil
			}
			pool, err := pgxpool.New(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return db, pool
		},
	}
}

// forEachEngine runs fn on SQLite and, when configured, on PostgreSQL.
func forEachEngine(t *testing.T, fn func(t *testing.T, d database)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteDatabase(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDatabase(t, true)) })
	t.Run("postgres_poll_only", func(t *testing.T) { fn(t, postgresDatabase(t, false)) })
}

// recordArgs is a test job. The worker fails its first FailTimes attempts
// and blocks while Block is set until the test releases it.
type recordArgs struct {
	Name      string `json:"name"`
	FailTimes int    `json:"fail_times"`
	Block     bool   `json:"block"`
}

func (recordArgs) Kind() string { return "test.record" }

// recorder remembers which job names ran, on which attempt.
type recorder struct {
	mu      sync.Mutex
	runs    map[string][]int // name -> attempts seen
	order   []string         // names in the order they ran
	changed chan struct{}
	started chan string   // receives the name of each blocking job as it starts
	release chan struct{} // closed to let blocking jobs finish
}

func newRecorder() *recorder {
	return &recorder{
		runs:    make(map[string][]int),
		changed: make(chan struct{}, 1),
		started: make(chan string, 10),
		release: make(chan struct{}),
	}
}

func (r *recorder) record(name string, attempt int) {
	r.mu.Lock()
	r.runs[name] = append(r.runs[name], attempt)
	r.order = append(r.order, name)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) attempts(name string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.runs[name]...)
}

// waitRuns waits until name has run n times and returns its attempts.
func (r *recorder) waitRuns(t *testing.T, name string, n int) []int {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if a := r.attempts(name); len(a) >= n {
			return a
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("job %q ran %d times, want %d", name, len(r.attempts(name)), n)
		}
	}
}

type recordWorker struct {
	river.WorkerDefaults[recordArgs]
	rec *recorder
}

func (w *recordWorker) Work(ctx context.Context, job *river.Job[recordArgs]) error {
	if job.Args.Block {
		w.rec.started <- job.Args.Name
		select {
		case <-w.rec.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.rec.record(job.Args.Name, job.Attempt)
	if job.Attempt <= job.Args.FailTimes {
		return fmt.Errorf("planned failure on attempt %d", job.Attempt)
	}
	return nil
}

// NextRetry retries almost at once so the test need not wait out River's
// backoff.
func (w *recordWorker) NextRetry(*river.Job[recordArgs]) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}

type setup struct {
	db  *sql.DB
	q   *jobs.Queue
	rec *recorder
	reg *prometheus.Registry
}

// start migrates the database, opens a Queue on fresh pools and starts it.
func start(t *testing.T, d database, maxWorkers int) setup {
	t.Helper()
	db, pool := d.open(t)
	ctx := context.Background()
	if err := jobs.Migrate(ctx, d.engine, db); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	workers := river.NewWorkers()
	river.AddWorker(workers, &recordWorker{rec: rec})
	reg := prometheus.NewRegistry()
	q, err := jobs.New(jobs.Config{
		Engine:            d.engine,
		DB:                db,
		PgxPool:           pool,
		Logger:            slog.New(slog.DiscardHandler),
		Workers:           workers,
		MaxWorkers:        maxWorkers,
		Registerer:        reg,
		FetchPollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return setup{db: db, q: q, rec: rec, reg: reg}
}

// enqueue inserts args in a transaction and commits or rolls it back.
func enqueue(t *testing.T, s setup, args recordArgs, opts *river.InsertOpts, commit bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.q.InsertTx(ctx, tx, args, opts); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if commit {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func listJobs(t *testing.T, s setup) []*rivertype.JobRow {
	t.Helper()
	res, err := s.q.Client().JobList(context.Background(), river.NewJobListParams().Kinds("test.record"))
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

// waitState waits until every listed job is in state want.
func waitState(t *testing.T, s setup, want rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		rows := listJobs(t, s)
		done := len(rows) > 0
		for _, r := range rows {
			done = done && r.State == want
		}
		if done {
			return rows
		}
		if time.Now().After(deadline) {
			for _, r := range rows {
				t.Logf("job %d %s: state %s attempt %d", r.ID, r.EncodedArgs, r.State, r.Attempt)
			}
			t.Fatalf("jobs did not all reach state %s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d database) {
		db, _ := d.open(t)
		for range 2 {
			if err := jobs.Migrate(context.Background(), d.engine, db); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestInsertTxFollowsTransaction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d database) {
		s := start(t, d, 0)
		enqueue(t, s, recordArgs{Name: "rolled-back"}, nil, false)
		enqueue(t, s, recordArgs{Name: "committed"}, nil, true)

		s.rec.waitRuns(t, "committed", 1)
		rows := waitState(t, s, rivertype.JobStateCompleted)
		if len(rows) != 1 {
			t.Fatalf("got %d jobs in the database, want only the committed one", len(rows))
		}
		if got := s.rec.attempts("rolled-back"); len(got) != 0 {
			t.Fatalf("job from a rolled-back transaction ran: %v", got)
		}
		waitMetric(t, s.reg, "test.record", jobs.OutcomeCompleted, 1)
	})
}

func TestFailedJobIsRetried(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d database) {
		s := start(t, d, 0)
		enqueue(t, s, recordArgs{Name: "flaky", FailTimes: 1}, nil, true)

		got := s.rec.waitRuns(t, "flaky", 2)
		if got[0] != 1 || got[1] != 2 {
			t.Fatalf("attempts = %v, want [1 2]", got)
		}
		rows := waitState(t, s, rivertype.JobStateCompleted)
		if len(rows[0].Errors) != 1 {
			t.Fatalf("recorded errors = %d, want 1", len(rows[0].Errors))
		}
		if rows[0].MaxAttempts != jobs.DefaultMaxAttempts {
			t.Fatalf("MaxAttempts = %d, want default %d", rows[0].MaxAttempts, jobs.DefaultMaxAttempts)
		}
		waitMetric(t, s.reg, "test.record", jobs.OutcomeRetryable, 1)
		waitMetric(t, s.reg, "test.record", jobs.OutcomeCompleted, 1)
	})
}

func TestFinalFailureIsDiscarded(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d database) {
		s := start(t, d, 0)
		enqueue(t, s, recordArgs{Name: "doomed", FailTimes: 99}, &river.InsertOpts{MaxAttempts: 2}, true)
		s.rec.waitRuns(t, "doomed", 2)
		waitState(t, s, rivertype.JobStateDiscarded)
		waitMetric(t, s.reg, "test.record", jobs.OutcomeDiscarded, 1)
	})
}

// TestJobsSurviveRestart stops a queue while one job is running and another
// waits, then starts a new queue on reopened pools: both jobs run there.
func TestJobsSurviveRestart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d database) {
		// One worker: while "running" blocks, "waiting" cannot be fetched.
		s1 := start(t, d, 1)
		enqueue(t, s1, recordArgs{Name: "running", Block: true}, nil, true)
		select {
		case <-s1.rec.started:
		case <-time.After(waitTimeout):
			t.Fatal("blocking job never started")
		}
		enqueue(t, s1, recordArgs{Name: "waiting"}, nil, true)

		// The running job never finishes on its own, so the graceful stop
		// runs out of time and cancels it.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := s1.q.Stop(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop = %v, want deadline exceeded", err)
		}
		if got := s1.rec.attempts("waiting"); len(got) != 0 {
			t.Fatalf("waiting job ran before the restart: %v", got)
		}

		s2 := start(t, d, 0)
		close(s2.rec.release) // let "running" finish this time
		s2.rec.waitRuns(t, "waiting", 1)
		s2.rec.waitRuns(t, "running", 1)
		waitState(t, s2, rivertype.JobStateCompleted)
	})
}

// waitMetric waits until roster_jobs_total{kind,outcome} reaches want; the
// counters are fed asynchronously from River's events.
func waitMetric(t *testing.T, reg *prometheus.Registry, kind, outcome string, want float64) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got, seenHistogram := gather(t, reg, kind, outcome)
		if got >= want && seenHistogram {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster_jobs_total{kind=%q,outcome=%q} = %v (histogram seen: %v), want %v", kind, outcome, got, seenHistogram, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func gather(t *testing.T, reg *prometheus.Registry, kind, outcome string) (total float64, seenHistogram bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "roster_jobs_total":
				if labels["kind"] == kind && labels["outcome"] == outcome {
					total = m.GetCounter().GetValue()
				}
			case "roster_job_duration_seconds":
				if labels["kind"] == kind && m.GetHistogram().GetSampleCount() > 0 {
					seenHistogram = true
				}
			}
		}
	}
	return total, seenHistogram
}

// TestInAppJobsGoFirst: with the queue's workers busy and deliveries
// waiting, a fan-out queued after them runs before any of them.
func TestInAppJobsGoFirst(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d database) {
		s := start(t, d, 1)
		enqueue(t, s, recordArgs{Name: "busy", Block: true}, nil, true)
		<-s.rec.started
		for i := range 20 {
			enqueue(t, s, recordArgs{Name: fmt.Sprint("deliver-", i)}, &river.InsertOpts{Priority: jobs.PriorityDeliver}, true)
		}
		enqueue(t, s, recordArgs{Name: "fanout"}, &river.InsertOpts{Priority: jobs.PriorityInApp}, true)
		close(s.rec.release)
		s.rec.waitRuns(t, "deliver-19", 1)
		s.rec.mu.Lock()
		defer s.rec.mu.Unlock()
		if len(s.rec.order) < 2 || s.rec.order[1] != "fanout" {
			t.Fatalf("ran in the order %v, want the fan-out right after the busy job", s.rec.order)
		}
	})
}
