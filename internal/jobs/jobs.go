// Package jobs is Roster's durable job queue, built on River.
//
// Work that must survive a crash or restart (outgoing mail, notifications,
// digests) is enqueued as a River job inside the same database transaction
// as the change that caused it, so the job exists if and only if the change
// commits. River then runs it with retries and exponential backoff.
//
// The same code runs on both engines: SQLite through riversqlite and
// PostgreSQL through riverdatabasesql. Both use *sql.Tx as the transaction
// type, so callers enqueue with the *sql.Tx they already hold.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Engine names the database engine the queue runs on.
type Engine string

// Supported engines.
const (
	EngineSQLite   Engine = "sqlite"
	EnginePostgres Engine = "postgres"
)

// Queue names. Mail has its own queue so a burst of slow SMTP deliveries
// cannot starve other jobs of workers.
const (
	QueueDefault = river.QueueDefault
	QueueMail    = "mail"
	// QueueNotify carries notification fan-outs and deliveries: many
	// short jobs, so it gets more workers (NotifyWorkers), and a burst of
	// events cannot hold up mail or other jobs.
	QueueNotify = "notify"
)

// NotifyWorkers is the worker count of QueueNotify. Each poll fetches up
// to this many jobs, which is what bounds fan-out throughput on SQLite
// (no LISTEN, one poll per interval).
const NotifyWorkers = 50

// DefaultMaxAttempts is how often a job runs before River discards it,
// unless its args set InsertOpts.MaxAttempts. With River's attempt^4 second
// backoff, 10 attempts spread over about four hours.
const DefaultMaxAttempts = 10

// Priorities within a queue; River runs a lower number first. What people
// see in the app (a fan-out to the in-app centre and its streams) goes
// before sends to other channels, so a backlog of emails or pushes never
// holds up the notification centre.
const (
	PriorityInApp   = 1
	PriorityDeliver = 2
)

// SlowPollFactor: every queue but QueueNotify polls this many times less
// often than Config.FetchPollInterval. On SQLite each poll is an UPDATE on
// the single writer whose SQL River parses anew, and with three queues at
// 50 ms an idle server spent a tenth of a core on them; only QueueNotify
// carries what an open stream waits for. Polls only start a queue's
// work: a queue that fetched a full batch fetches again as workers free.
const SlowPollFactor = 5

// DefaultMaxWorkers is the per-queue worker count when Config.MaxWorkers is 0.
const DefaultMaxWorkers = 10

// stopAndCancelTimeout bounds the hard stop that follows a graceful stop
// whose deadline passed: job contexts are cancelled, and well-behaved
// workers return quickly.
const stopAndCancelTimeout = 10 * time.Second

// Config configures a Queue.
type Config struct {
	// Engine is the database engine of DB.
	Engine Engine
	// DB is the application's pool. On SQLite it is the single-writer pool
	// with MaxOpenConns(1), as River recommends for SQLite.
	DB *sql.DB
	// PgxPool is used on PostgreSQL only, to LISTEN for new jobs. When nil
	// the queue polls.
	PgxPool *pgxpool.Pool
	// Logger receives River's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Workers holds the workers; callers register them before New.
	Workers *river.Workers
	// MaxWorkers is the number of jobs run at once per queue. Default 10.
	MaxWorkers int
	// Queues overrides the queues worked and their worker counts. Default:
	// QueueDefault and QueueMail, each with MaxWorkers.
	Queues map[string]int
	// Registerer receives the job metrics when non-nil.
	Registerer prometheus.Registerer
	// FetchPollInterval is how often River polls QueueNotify for jobs
	// when it is not notified of them, and the other queues SlowPollFactor
	// times less often. Zero keeps River's default; tests use a short one.
	FetchPollInterval time.Duration
	// RescueAfter is how long a job may stay running before it is taken
	// for abandoned (its instance died) and run again; DefaultRescueAfter
	// when zero. Every job must therefore be safe to run twice.
	RescueAfter time.Duration
}

// DefaultRescueAfter is Config.RescueAfter's default.
const DefaultRescueAfter = 5 * time.Minute

// Queue is a River client plus the metrics fed from its events.
type Queue struct {
	client  *river.Client[*sql.Tx]
	logger  *slog.Logger
	metrics *metrics

	// done is closed when the metrics goroutine started by Start exits.
	done chan struct{}
}

// driver returns the River driver for engine.
func driver(engine Engine, db *sql.DB, pgx *pgxpool.Pool) (riverdriver.Driver[*sql.Tx], error) {
	switch engine {
	case EngineSQLite:
		return riversqlite.New(db), nil
	case EnginePostgres:
		if pgx != nil {
			return riverdatabasesql.NewWithPgxListener(db, pgx), nil
		}
		return riverdatabasesql.New(db), nil
	default:
		return nil, fmt.Errorf("jobs: unknown engine %q", engine)
	}
}

// Migrate brings River's own tables up to date on db. It is idempotent:
// migrations already applied are skipped.
func Migrate(ctx context.Context, engine Engine, db *sql.DB) error {
	drv, err := driver(engine, db, nil)
	if err != nil {
		return err
	}
	migrator, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: discardLogger()})
	if err != nil {
		return fmt.Errorf("jobs: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: river migrations: %w", err)
	}
	return nil
}

// New creates a Queue. It does not start working jobs; call Start. A Queue
// that is never started can still enqueue jobs.
func New(cfg Config) (*Queue, error) {
	if cfg.DB == nil {
		return nil, errors.New("jobs: Config.DB is nil")
	}
	if cfg.Workers == nil {
		return nil, errors.New("jobs: Config.Workers is nil")
	}
	drv, err := driver(cfg.Engine, cfg.DB, cfg.PgxPool)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	queues := queueConfigs(cfg)

	rescue := cfg.RescueAfter
	if rescue <= 0 {
		rescue = DefaultRescueAfter
	}
	rc := &river.Config{
		Logger:      logger,
		MaxAttempts: DefaultMaxAttempts,
		Queues:      queues,
		Workers:     cfg.Workers,
		// River wants the rescue delay at least the default job timeout;
		// workers that need longer say so with their own Timeout.
		JobTimeout:           min(time.Minute, rescue),
		RescueStuckJobsAfter: rescue,
	}
	if cfg.FetchPollInterval > 0 {
		rc.FetchPollInterval = cfg.FetchPollInterval
		// River rejects a poll interval shorter than the fetch cooldown.
		rc.FetchCooldown = min(cfg.FetchPollInterval, river.FetchCooldownDefault)
	}
	client, err := river.NewClient(drv, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Queue{client: client, logger: logger, metrics: m}, nil
}

// queueConfigs is River's configuration of cfg's queues.
func queueConfigs(cfg Config) map[string]river.QueueConfig {
	maxWorkers := cfg.MaxWorkers
	if maxWorkers <= 0 {
		maxWorkers = DefaultMaxWorkers
	}
	queues := make(map[string]river.QueueConfig)
	if len(cfg.Queues) == 0 {
		queues[QueueDefault] = river.QueueConfig{MaxWorkers: maxWorkers}
		queues[QueueMail] = river.QueueConfig{MaxWorkers: maxWorkers}
		queues[QueueNotify] = river.QueueConfig{MaxWorkers: NotifyWorkers}
	}
	for name, n := range cfg.Queues {
		if n <= 0 {
			n = maxWorkers
		}
		queues[name] = river.QueueConfig{MaxWorkers: n}
	}
	if cfg.FetchPollInterval > 0 {
		for name, q := range queues {
			if name != QueueNotify {
				q.FetchPollInterval = SlowPollFactor * cfg.FetchPollInterval
				queues[name] = q
			}
		}
	}
	return queues
}

// Start begins working jobs. Jobs keep running until Stop, or until ctx is
// cancelled, which cancels running jobs at once.
func (q *Queue) Start(ctx context.Context) error {
	// Subscribe before starting so no early event is missed. A large buffer
	// keeps events from being dropped in bursts; the consumer only bumps
	// counters, so it keeps up easily.
	events, cancel := q.client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: 10_000,
		Kinds: []river.EventKind{
			river.EventKindJobCompleted,
			river.EventKindJobFailed,
			river.EventKindJobCancelled,
			river.EventKindJobSnoozed,
			river.EventKindJobInterrupted,
		},
	})
	if err := q.client.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.done = make(chan struct{})
	go func() {
		defer close(q.done)
		// River closes the channel when the client stops.
		for ev := range events {
			q.metrics.observe(ev)
		}
	}()
	return nil
}

// Stop shuts the queue down gracefully: it stops fetching new jobs and
// waits for running ones until ctx is done. If ctx ends first, running jobs
// are cancelled (StopAndCancel) and Stop returns ctx's error. Jobs not yet
// started stay in the database and run after the next Start.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		q.logger.WarnContext(ctx, "jobs: graceful stop timed out; cancelling running jobs")
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopAndCancelTimeout)
		defer cancel()
		if herr := q.client.StopAndCancel(hard); herr != nil {
			return fmt.Errorf("jobs: hard stop: %w", errors.Join(err, herr))
		}
	}
	if q.done != nil {
		select {
		case <-q.done:
		case <-time.After(time.Second):
			// The client has stopped; the channel closes moments later.
		}
	}
	if err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// InsertTx enqueues a job inside the caller's transaction: the job exists
// if and only if tx commits. opts may be nil; the args' own InsertOpts (if
// they implement river.JobArgsWithInsertOpts) then apply.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.client.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// Client returns the underlying River client, for job listing, cancelling
// and other administration.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// discardLogger silences the migrator's per-step logs; Migrate's caller
// logs the outcome.
func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// InsertManyTx enqueues several jobs inside the caller's transaction in
// one batch.
func (q *Queue) InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	if _, err := q.client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: enqueue %d jobs: %w", len(params), err)
	}
	return nil
}

// AddPeriodic schedules jobs that run on an interval (call before Start).
func (q *Queue) AddPeriodic(periodic ...*river.PeriodicJob) {
	for _, p := range periodic {
		q.client.PeriodicJobs().Add(p)
	}
}
