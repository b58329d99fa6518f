package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"
)

// Cached reads and their invalidation.
//
// A write that changes what a cache holds names what it changed with
// tags: "u:<user id>" (a person's row, or all their sessions or tokens),
// "s:<session id>", "t:<token id>", "w:<workspace id>" (the workspace's
// security policy), "e:<user id>" (their pending email change) and
// "n:<user id>" (their unread count). Every cache of the instance drops
// what carries a tag as soon as the write has committed, before the
// writer's request answers. On PostgreSQL the tags also go to every other
// instance, by a NOTIFY sent in the write's own transaction (so it is
// delivered exactly when the write commits), and each instance's listener
// drops them; "n:" is the exception, sent on SQLite only, where alone
// unread counts are cached (see InboxTag).
//
// A cache is used only while its instance can hear of changes: always on
// SQLite (one instance), and on PostgreSQL while the listener is
// connected; whenever it (re)connects, every cache is emptied, since
// changes may have been missed meanwhile.

// changesChannel is the PostgreSQL NOTIFY channel of tags.
const changesChannel = "roster_changes"

// changeBus is the instance's caches and whether they may be used.
type changeBus struct {
	mu     sync.Mutex
	caches []dropper
	live   atomic.Bool
}

type dropper interface {
	drop(tags []string)
	dropAll()
}

func (b *changeBus) add(c dropper) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.caches = append(b.caches, c)
}

func (b *changeBus) drop(tags []string) {
	b.mu.Lock()
	caches := b.caches
	b.mu.Unlock()
	for _, c := range caches {
		c.drop(tags)
	}
}

func (b *changeBus) dropAll() {
	b.mu.Lock()
	caches := b.caches
	b.mu.Unlock()
	for _, c := range caches {
		c.dropAll()
	}
}

// changed tells the caches that tags changed: on PostgreSQL by NOTIFY on
// q's connection (inside q's transaction, if any), here at once outside
// a transaction, or when InTx commits.
func (q *Q) changed(ctx context.Context, tags ...string) error {
	if q.db.Engine == Postgres {
		if _, err := q.x.ExecContext(ctx, "SELECT pg_notify($1, $2)", changesChannel, strings.Join(tags, ",")); err != nil {
			return err
		}
	}
	if q.Tx != nil {
		q.changes = append(q.changes, tags...)
		return nil
	}
	q.db.bus.drop(tags)
	return nil
}

// ListenChanges hears the tags other instances' writes send, until ctx
// ends, reconnecting after errors; caches are used only while it is
// connected. It returns at once on SQLite.
func (db *DB) ListenChanges(ctx context.Context, logger *slog.Logger) {
	if db.Engine != Postgres {
		return
	}
	Listen(ctx, db.Pgx, changesChannel, logger, ListenHandlers{
		// Whatever changed before LISTEN took effect may be cached:
		// start empty.
		Connected: func() { db.bus.dropAll(); db.bus.live.Store(true) },
		Heard:     func(payload string) { db.bus.drop(strings.Split(payload, ",")) },
		Lost:      func() { db.bus.live.Store(false); db.bus.dropAll() },
	})
}

// ListenHandlers are what Listen calls: Connected once LISTEN took effect
// (again after each reconnection), Heard with each payload, Lost when the
// connection is gone.
type ListenHandlers struct {
	Connected func()
	Heard     func(payload string)
	Lost      func()
}

// Listen LISTENs on a PostgreSQL channel until ctx ends, reconnecting a
// second after an error (logged).
func Listen(ctx context.Context, pool *pgxpool.Pool, channel string, logger *slog.Logger, h ListenHandlers) {
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, channel, h)
		if h.Lost != nil {
			h.Lost()
		}
		if ctx.Err() != nil {
			return
		}
		logger.WarnContext(ctx, "listener lost; reconnecting", "channel", channel, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, channel string, h ListenHandlers) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+channel) }()
	if h.Connected != nil {
		h.Connected()
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		h.Heard(n.Payload)
	}
}

// CachesLive reports whether caches may be used now.
func (db *DB) CachesLive() bool { return db.bus.live.Load() }

// Cache keeps values read from the database, dropped by the tags writes
// send (see above), and at most MaxAge old whatever happens.
type Cache[K comparable, V any] struct {
	db     *DB
	max    int
	maxAge time.Duration
	kinds  []string // the kinds of tag its values carry ("u", "s"); none: any

	mu    sync.RWMutex // read-locked by the lookups every request makes
	gen   uint64       // moves on every drop
	items map[K]cacheItem[V]
	byTag map[string]map[K]struct{}

	flights singleflight.Group // reads of missing keys, shared (Share)
}

type cacheItem[V any] struct {
	v     V
	until time.Time // dropped then whatever happens (see lifetime)
	tags  []string
}

// NewCache returns a cache of at most max values, each kept at most
// maxAge, registered to hear db's changes. Without a database (a service
// built for a test that needs none) it keeps nothing.
//
// kinds, when given, are the kinds of tag (the part before ':') its
// values carry: a change naming none of them leaves the cache alone,
// generation included, so that the unread counts every fan-out drops do
// not keep the other caches' reads from being kept; a value put with a
// tag of another kind is not kept.
func NewCache[K comparable, V any](db *DB, max int, maxAge time.Duration, kinds ...string) *Cache[K, V] {
	c := &Cache[K, V]{db: db, max: max, maxAge: maxAge, kinds: kinds, items: map[K]cacheItem[V]{}, byTag: map[string]map[K]struct{}{}}
	if db != nil && db.bus != nil {
		db.bus.add(c)
	}
	return c
}

// live reports whether the cache may be used now.
func (c *Cache[K, V]) live() bool { return c.db != nil && c.db.bus != nil && c.db.bus.live.Load() }

// Get returns k's value when it is cached, fresh, and the cache may be
// used now.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	v, _, ok := c.GetGen(k)
	return v, ok
}

// Gen is taken before reading what Put will keep: a change dropped
// between the read and Put then keeps Put from caching what the read
// saw before it.
func (c *Cache[K, V]) Gen() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// Put keeps v for k, dropped by any of tags, unless anything was dropped
// since gen was taken.
func (c *Cache[K, V]) Put(k K, v V, gen uint64, tags ...string) {
	if !c.live() {
		return
	}
	for _, t := range tags {
		if !c.concerns(t) {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.items) >= c.max {
		// Full: start over rather than track recency on every hit.
		c.items, c.byTag = map[K]cacheItem[V]{}, map[string]map[K]struct{}{}
	}
	c.forget(k)
	c.items[k] = cacheItem[V]{v: v, until: c.db.now().Add(c.lifetime()), tags: tags}
	for _, t := range tags {
		if c.byTag[t] == nil {
			c.byTag[t] = map[K]struct{}{}
		}
		c.byTag[t][k] = struct{}{}
	}
}

// lifetime is how long a value put now is kept at most: between 80 % and
// all of maxAge, at random, so that values read together (a fresh
// server's first requests) do not all age out together and be read again
// at once.
func (c *Cache[K, V]) lifetime() time.Duration {
	return c.maxAge - rand.N(c.maxAge/5+1)
}

// Load returns k's value from the cache, else from read, kept under tags
// (the generation is taken before read runs, as Put needs). A nil cache
// keeps nothing: Load then always reads. Each caller reads for itself;
// only the principals' lookups share their reads (Share), where a fresh
// server's 64 clients miss together (docs/architecture.md).
func (c *Cache[K, V]) Load(ctx context.Context, k K, read func(ctx context.Context) (V, error), tags ...string) (V, error) {
	if c == nil {
		return read(ctx)
	}
	if v, ok := c.Get(k); ok {
		return v, nil
	}
	gen := c.Gen()
	v, err := read(ctx)
	if err == nil {
		c.Put(k, v, gen, tags...)
	}
	return v, err
}

// errShareEnded marks a shared read that failed because the caller running
// it ended: those that shared it and go on read for themselves.
var errShareEnded = errors.New("store: the caller running a shared read ended")

// Share runs read for k once for all the callers that ask at the same time
// while the cache is live, each getting its result (a value shared as a
// cached one is: callers copy what they change). read is given the
// generation taken before it, for Put. The read is keyed by the generation
// too: a caller that comes after a drop (a revocation, say) never shares a
// read that began before it. While the cache is not live (PostgreSQL with
// its listener down: another instance's change would not move the
// generation) every caller reads for itself. When the caller running read
// ends and read fails, the others read for themselves.
func (c *Cache[K, V]) Share(ctx context.Context, k K, read func(ctx context.Context, gen uint64) (V, error)) (V, error) {
	if c == nil {
		return read(ctx, 0)
	}
	gen := c.Gen()
	if !c.live() {
		return read(ctx, gen)
	}
	got, err, _ := c.flights.Do(flightKey(k, gen), func() (any, error) {
		v, err := read(ctx, gen)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", errShareEnded, err)
		}
		return v, err
	})
	if errors.Is(err, errShareEnded) && ctx.Err() == nil {
		return read(ctx, c.Gen())
	}
	v, _ := got.(V)
	return v, err
}

// flightKey names k's read under generation gen.
func flightKey[K comparable](k K, gen uint64) string {
	g := strconv.FormatUint(gen, 10)
	switch k := any(k).(type) {
	case string:
		return g + "/" + k
	case int64:
		return g + "/" + strconv.FormatInt(k, 10)
	}
	return g + "/" + fmt.Sprint(k)
}

// GetGen is Get with the generation current when the value was read,
// for Update.
func (c *Cache[K, V]) GetGen(k K) (V, uint64, bool) {
	var zero V
	if !c.live() {
		return zero, 0, false
	}
	now := c.db.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	it, ok := c.items[k]
	if !ok || !now.Before(it.until) {
		return zero, 0, false
	}
	return it.v, c.gen, true
}

// Update replaces k's value, keeping its age and tags (a record of use,
// which changes nothing a drop is about), unless anything was dropped
// since gen was taken: a value read before a change must not overwrite
// the one read after it.
func (c *Cache[K, V]) Update(k K, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if it, ok := c.items[k]; ok {
		it.v = v
		c.items[k] = it
	}
}

func (c *Cache[K, V]) forget(k K) {
	it, ok := c.items[k]
	if !ok {
		return
	}
	delete(c.items, k)
	for _, t := range it.tags {
		delete(c.byTag[t], k)
		if len(c.byTag[t]) == 0 {
			delete(c.byTag, t)
		}
	}
}

// concerns reports whether tag is of a kind the cache's values carry.
func (c *Cache[K, V]) concerns(tag string) bool {
	if len(c.kinds) == 0 {
		return true
	}
	kind, _, _ := strings.Cut(tag, ":")
	return slices.Contains(c.kinds, kind)
}

func (c *Cache[K, V]) drop(tags []string) {
	if !slices.ContainsFunc(tags, c.concerns) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, t := range tags {
		for k := range c.byTag[t] {
			c.forget(k)
		}
	}
}

func (c *Cache[K, V]) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.items, c.byTag = map[K]cacheItem[V]{}, map[string]map[K]struct{}{}
}

// Len is the number of values kept (tests).
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.items)
}
