package live

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"roster/internal/core"
	"roster/internal/testenv"
)

func TestHubLimitsAndWakes(t *testing.T) {
	h := NewHub()
	h.MaxPerUser, h.MaxTotal = 2, 3
	a1, err := h.Subscribe(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(1); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(1); err != ErrTooMany {
		t.Fatalf("third stream of one person: %v", err)
	}
	b1, err := h.Subscribe(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(3); err != ErrTooMany {
		t.Fatalf("a stream past the instance's total: %v", err)
	}
	h.Unsubscribe(a1)
	h.Unsubscribe(a1) // twice: counted once
	if _, err := h.Subscribe(3); err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	if h.Count() != 3 {
		t.Fatalf("count %d", h.Count())
	}
	// A wake-up reaches only the person's streams, and coalesces.
	h.Publish(context.Background(), []core.FeedEntry{{UserID: 2}, {UserID: 2}})
	select {
	case <-b1.C:
	default:
		t.Fatal("person 2 not woken")
	}
	select {
	case <-b1.C:
		t.Fatal("wake-ups did not coalesce")
	default:
	}
}

// TestHeldEntries: entries published here are held for the person's
// streams in order; a wake-up from elsewhere, or more entries than are
// held, makes the stream read its feed; a NOTIFY this instance sent is not
// heard as another instance's.
func TestHeldEntries(t *testing.T) {
	h := NewHub()
	s, err := h.Subscribe(7)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.Publish(ctx, []core.FeedEntry{{UserID: 7, Seq: 1}, {UserID: 8, Seq: 1}, {UserID: 7, Seq: 2}})
	if got, stale := s.Take(); stale || len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
		t.Fatalf("held %+v, stale %v", got, stale)
	}
	if got, stale := s.Take(); stale || len(got) != 0 {
		t.Fatalf("taken twice: %+v %v", got, stale)
	}
	h.wake([]int64{7})
	h.Publish(ctx, []core.FeedEntry{{UserID: 7, Seq: 3}})
	if got, stale := s.Take(); !stale || len(got) != 0 {
		t.Fatalf("after a wake-up from elsewhere: %+v, stale %v", got, stale)
	}
	for i := range maxPending + 1 {
		h.Publish(ctx, []core.FeedEntry{{UserID: 7, Seq: int64(4 + i)}})
	}
	if got, stale := s.Take(); !stale || len(got) != 0 {
		t.Fatalf("past %d held: %d, stale %v", maxPending, len(got), stale)
	}

	// A hub on PostgreSQL marks its payloads with a first field that is
	// not a number (so an older instance's parser skips it); Listen's
	// handler skips its own and reads another instance's (and an unmarked
	// one).
	h.mark = "mme,"
	heard := func(payload string) bool {
		s.Take()
		h.heard(payload)
		_, stale := s.Take()
		return stale
	}
	if heard("mme,7") || !heard("mother,7,9") || !heard("7") || heard("mother,9") {
		t.Fatal("payloads misread")
	}
}

// TestListenerWakesStreamsWhenConnected: once the hub's listener is
// connected, every stream is woken to read its feed (stale), so what
// other instances published before it listened, at start or while the
// database was away, is not left for the next heartbeat.
func TestListenerWakesStreamsWhenConnected(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := pgxpool.New(ctx, testenv.FreshPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	h := NewPostgresHub(pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s, err := h.Subscribe(7)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); h.Listen(ctx) }()
	// The listener holds a connection until its context ends: end it
	// before closing the pool, which waits for every connection.
	defer func() { cancel(); <-done; pool.Close() }()
	select {
	case <-s.C:
		if _, stale := s.Take(); !stale {
			t.Fatal("woken, but not told to read its feed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream was not woken when the listener connected")
	}
}
