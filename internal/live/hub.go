// Package live tells open notification streams that something changed for
// their person. A wake-up carries no data: the stream reads what is new
// from the person's feed in the database, so nothing is lost when a
// wake-up is (a stream also looks on every heartbeat) and nothing is sent
// twice (it sends only entries after the last one it sent).
//
// On SQLite the hub is in process. On PostgreSQL every instance LISTENs on
// one channel and publishes with NOTIFY, so a notification made on one
// instance reaches streams held by any other.
package live

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"roster/internal/core"
	"roster/internal/store"
)

// DefaultMaxPerUser bounds the open streams of one person (tabs, devices)
// on one instance.
const DefaultMaxPerUser = 10

// DefaultMaxTotal bounds the open streams of one instance: each holds a
// connection and a goroutine and reads the feed every heartbeat.
const DefaultMaxTotal = 20_000

// ErrTooMany is returned by Subscribe when the person has too many streams.
var ErrTooMany = core.Errorf(core.ETOOMANY, "errors.notify.too_many_streams")

// Sub is one open stream's subscription.
type Sub struct {
	UserID int64
	// C receives a value when the person's feed may have moved on;
	// wake-ups coalesce.
	C chan struct{}
}

// Hub routes wake-ups to the subscriptions of each person.
type Hub struct {
	MaxPerUser int
	MaxTotal   int
	total      int

	mu   sync.Mutex
	subs map[int64]map[*Sub]struct{}
	done chan struct{} // closed by Close: streams end
	once sync.Once

	pg     *pgxpool.Pool // nil: in process only
	logger *slog.Logger
}

// NewHub returns an in-process hub.
func NewHub() *Hub {
	return &Hub{MaxPerUser: DefaultMaxPerUser, MaxTotal: DefaultMaxTotal, subs: map[int64]map[*Sub]struct{}{}, done: make(chan struct{}), logger: slog.Default()}
}

// channel is the PostgreSQL NOTIFY channel.
const channel = "roster_notify"

// NewPostgresHub returns a hub that publishes through PostgreSQL; call
// Listen to receive what other instances publish.
func NewPostgresHub(pool *pgxpool.Pool, logger *slog.Logger) *Hub {
	h := NewHub()
	h.pg, h.logger = pool, logger
	return h
}

// Subscribe opens a subscription for userID.
func (h *Hub) Subscribe(userID int64) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs[userID]) >= h.MaxPerUser || h.total >= h.MaxTotal {
		return nil, ErrTooMany
	}
	h.total++
	s := &Sub{UserID: userID, C: make(chan struct{}, 1)}
	if h.subs[userID] == nil {
		h.subs[userID] = map[*Sub]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	return s, nil
}

// Unsubscribe closes s.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s.UserID][s]; ok {
		h.total--
	}
	delete(h.subs[s.UserID], s)
	if len(h.subs[s.UserID]) == 0 {
		delete(h.subs, s.UserID)
	}
}

// Count returns the number of open subscriptions.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// Done is closed when the hub shuts down: streams end at once.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Close ends every stream.
func (h *Hub) Close() { h.once.Do(func() { close(h.done) }) }

// wake wakes the subscriptions of users.
func (h *Hub) wake(users []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range users {
		for s := range h.subs[u] {
			select {
			case s.C <- struct{}{}:
			default: // already woken
			}
		}
	}
}

// Publish implements notify.Publisher: it wakes the streams of the
// entries' people, here and, on PostgreSQL, on every instance.
func (h *Hub) Publish(ctx context.Context, entries []core.FeedEntry) {
	users := make([]int64, 0, len(entries))
	seen := map[int64]bool{}
	for _, e := range entries {
		if !seen[e.UserID] {
			seen[e.UserID] = true
			users = append(users, e.UserID)
		}
	}
	if h.pg == nil {
		h.wake(users)
		return
	}
	// NOTIFY payloads are limited to 8000 bytes: send ids in slices.
	ctx = context.WithoutCancel(ctx)
	for len(users) > 0 {
		var b strings.Builder
		n := 0
		for n < len(users) && b.Len() < 7000 {
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(users[n], 10))
			n++
		}
		users = users[n:]
		if _, err := h.pg.Exec(ctx, "SELECT pg_notify($1, $2)", channel, b.String()); err != nil {
			// Streams still catch up on their next heartbeat.
			h.logger.WarnContext(ctx, "live: publish", "err", err)
		}
	}
}

// Listen receives what every instance publishes until ctx ends,
// reconnecting after errors. It returns at once for an in-process hub.
func (h *Hub) Listen(ctx context.Context) {
	if h.pg == nil {
		return
	}
	store.Listen(ctx, h.pg, channel, h.logger, store.ListenHandlers{Heard: func(payload string) {
		var users []int64
		for _, f := range strings.Split(payload, ",") {
			if id, err := strconv.ParseInt(f, 10, 64); err == nil {
				users = append(users, id)
			}
		}
		h.wake(users)
	}})
}

// ErrClosed is returned by Wait when the hub shut down.
var ErrClosed = errors.New("live: hub closed")
