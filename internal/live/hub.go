// Package live tells open notification streams that something changed for
// their person. Streams on the instance that made the change get the feed
// entries themselves (with the new notifications) and send them without a
// read; a wake-up from another instance carries no data, and the stream
// reads what is new from the person's feed in the database. Either way
// nothing is lost when a wake-up is (a stream also looks on every
// heartbeat, and reads its feed whenever the entries it holds do not
// follow the last one it sent) and nothing is sent twice (it sends only
// entries after the last one it sent).
//
// On SQLite the hub is in process. On PostgreSQL every instance LISTENs on
// one channel and publishes with NOTIFY, so a notification made on one
// instance reaches streams held by any other.
package live

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
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

	mu      sync.Mutex
	pending []core.FeedEntry // published on this instance since the last Take
	stale   bool             // something moved on that pending does not hold
}

// maxPending bounds the entries a subscription keeps between two Takes;
// past it the stream reads its feed instead.
const maxPending = 64

// Take returns the entries published for the subscription's person on
// this instance since the last Take, in the order published, and whether
// the feed may hold more (a wake-up from another instance, or too many to
// keep): then the stream must read its feed.
func (s *Sub) Take() (entries []core.FeedEntry, stale bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, stale = s.pending, s.stale
	s.pending, s.stale = nil, false
	return entries, stale
}

func (s *Sub) add(e *core.FeedEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case e == nil:
		s.stale = true
	case len(s.pending) >= maxPending:
		s.stale, s.pending = true, nil
	case !s.stale:
		s.pending = append(s.pending, *e)
	}
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
	mark   string        // "m<instance>,", heading this instance's NOTIFY payloads (a field ids parsing skips)
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
	h.mark = "m" + strconv.FormatUint(rand.Uint64(), 36) + ","
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

// wake wakes the subscriptions of users, whose feeds moved on in ways
// only the database knows (another instance published).
func (h *Hub) wake(users []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range users {
		for s := range h.subs[u] {
			s.add(nil)
			signal(s)
		}
	}
}

// deliver hands entries to the subscriptions of their people and wakes
// them.
func (h *Hub) deliver(entries []core.FeedEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range entries {
		for s := range h.subs[entries[i].UserID] {
			s.add(&entries[i])
			signal(s)
		}
	}
}

func signal(s *Sub) {
	select {
	case s.C <- struct{}{}:
	default: // already woken
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
	h.deliver(entries)
	if h.pg == nil {
		return
	}
	// Other instances hear of it through PostgreSQL; this one knows
	// already, and skips its own NOTIFY by the instance mark.
	// NOTIFY payloads are limited to 8000 bytes: send ids in slices.
	ctx = context.WithoutCancel(ctx)
	for len(users) > 0 {
		var b strings.Builder
		b.WriteString(h.mark)
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
	store.Listen(ctx, h.pg, channel, h.logger, store.ListenHandlers{Heard: h.heard, Connected: h.wakeAll})
}

// wakeAll wakes every stream to read its feed, once the listener is
// connected (at start, and again after the database came back): what
// other instances published while it was not listening reaches the
// streams now, not at their next heartbeat.
func (h *Hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.subs {
		for s := range subs {
			s.add(nil)
			signal(s)
		}
	}
}

// heard wakes the people of another instance's NOTIFY payload.
func (h *Hub) heard(payload string) {
	if h.mark != "" && strings.HasPrefix(payload, h.mark) {
		return // published here, and delivered then
	}
	var users []int64 // another instance's mark is not a number: skipped
	for _, f := range strings.Split(payload, ",") {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			users = append(users, id)
		}
	}
	h.wake(users)
}

// ErrClosed is returned by Wait when the hub shut down.
var ErrClosed = errors.New("live: hub closed")
