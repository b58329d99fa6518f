// Package notify is Roster's notification domain: the catalogue of event
// types, people's settings and the one precedence rule, the intake of
// events, their fan-out to the in-app centre and to delivery channels, and
// the centre's inbox with its live feed.
//
// Channels other than the in-app centre plug in as Adapters; this package
// imports none of them. Work that must survive a crash (fan-out, each
// delivery) runs as River jobs enqueued in the transaction that made it
// necessary.
package notify

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/events"
	"roster/internal/store"
)

// Translator renders catalog messages in one language (i18n.Localizer).
type Translator interface {
	T(key string, data ...map[string]any) string
	N(key string, count int, data ...map[string]any) string
}

// Jobs enqueues River jobs inside a transaction (jobs.Queue).
type Jobs interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error
	InsertManyTx(ctx context.Context, tx *sql.Tx, args []river.InsertManyParams) error
}

// Publisher tells open streams that their people's feeds moved on: in
// process on SQLite, through PostgreSQL's NOTIFY across instances.
type Publisher interface {
	Publish(ctx context.Context, entries []core.FeedEntry)
}

// DefaultRetention is how long notifications are kept.
const DefaultRetention = 90 * 24 * time.Hour

// Config is what the service is built from.
type Config struct {
	DB       *store.DB
	Jobs     Jobs
	Events   *events.Recorder
	Texts    func(lang string) Translator
	Live     Publisher // nil: nobody listens
	Adapters []Adapter
	// Retention is how long notifications are kept; DefaultRetention
	// when zero.
	Retention time.Duration
	// RetryFor is how long a delivery is retried on temporary errors;
	// DefaultRetryFor when zero.
	RetryFor time.Duration
	// RetryBase and RetryCap shape the wait between attempts of a
	// delivery, fan-out or digest: exponential from RetryBase, at most
	// RetryCap, with full jitter. Zero: 2 s and 30 min.
	RetryBase, RetryCap time.Duration
	Logger              *slog.Logger
	// MAC signs one-click unsubscribe links (secrets.Box.MAC); nil: no
	// links are made.
	MAC func(string) []byte
	// Digests mails daily digests (the email channel); nil: none are
	// sent.
	Digests DigestSender
}

// Service is the notification domain.
type Service struct {
	db        *store.DB
	jobs      Jobs
	events    *events.Recorder
	texts     func(lang string) Translator
	live      Publisher
	adapters  map[Channel]Adapter
	retention time.Duration
	retryFor  time.Duration
	retryBase time.Duration
	retryCap  time.Duration
	logger    *slog.Logger
	now       func() time.Time
	group     intakeGroup
	mac       func(string) []byte
	digests   DigestSender
	// unread caches each person's unread count for the bell every page
	// shows, on SQLite only (nil on PostgreSQL): the store drops a count
	// in the transaction that moves it (store.InboxTag), which on
	// PostgreSQL would take a NOTIFY to every instance per fan-out.
	unread *store.Cache[int64, int64]
}

// Unread-count cache bounds: a person's count is some 100 bytes kept, and
// read again at least every minute.
const (
	unreadCacheSize = 100_000
	unreadCacheAge  = time.Minute
)

// New builds the service.
func New(c Config) *Service {
	s := &Service{db: c.DB, jobs: c.Jobs, events: c.Events, texts: c.Texts, live: c.Live, adapters: map[Channel]Adapter{},
		retention: c.Retention, retryFor: c.RetryFor, retryBase: c.RetryBase, retryCap: c.RetryCap, logger: c.Logger, now: time.Now, mac: c.MAC, digests: c.Digests}
	for _, a := range c.Adapters {
		s.adapters[a.Channel()] = a
	}
	if c.DB != nil && c.DB.Engine == store.SQLite {
		s.unread = store.NewCache[int64, int64](c.DB, unreadCacheSize, unreadCacheAge, store.InboxKind)
	}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	if s.retryFor <= 0 {
		s.retryFor = DefaultRetryFor
	}
	if s.retryBase <= 0 {
		s.retryBase = backoffBase
	}
	if s.retryCap <= 0 {
		s.retryCap = backoffCap
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}

// Workers registers the service's jobs with River: fan-out, delivery,
// digests, pruning.
func (s *Service) Workers(w *river.Workers) error {
	if err := river.AddWorkerSafely(w, &fanoutWorker{s: s}); err != nil {
		return err
	}
	if err := river.AddWorkerSafely(w, &deliverWorker{s: s}); err != nil {
		return err
	}
	if err := river.AddWorkerSafely(w, &digestTickWorker{s: s}); err != nil {
		return err
	}
	if err := river.AddWorkerSafely(w, &digestWorker{s: s}); err != nil {
		return err
	}
	return river.AddWorkerSafely(w, &pruneWorker{s: s})
}

func (s *Service) publish(ctx context.Context, entries []core.FeedEntry) {
	if s.live != nil && len(entries) > 0 {
		s.live.Publish(ctx, entries)
	}
}
