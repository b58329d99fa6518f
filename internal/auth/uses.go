package auth

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"roster/internal/store"
)

// useLog gathers records of use and writes them in one transaction within
// Config.UseWriteDelay, off the requests' path: a busy server's requests would
// otherwise queue for SQLite's one writer, one commit each, whenever their
// tokens' uses fall due together (all of them, on a fresh server). What
// waits is read back by this instance's sign-in checks and lists (which
// stay reads: they never wait for the writer); a crash loses at most the
// last second's records, which are a minute coarse anyway (the next use
// after the minute records again).
type useLog struct {
	db    *store.DB
	delay time.Duration

	mu       sync.Mutex
	sessions map[int64]store.Use
	tokens   map[int64]store.Use
	timer    *time.Timer // set while records wait
	closed   bool        // after Close, records are written at once

	// writing is held across a write (a slot, so that a Flush whose
	// context ends stops waiting for it): no two writes overlap.
	writing chan struct{}
}

func newUseLog(db *store.DB, delay time.Duration) *useLog {
	return &useLog{db: db, delay: delay, sessions: map[int64]store.Use{}, tokens: map[int64]store.Use{}, writing: make(chan struct{}, 1)}
}

// session records that session id was used at at from ip.
func (l *useLog) session(id int64, at time.Time, ip string) {
	l.record(l.sessions, store.Use{ID: id, At: at, IP: ip})
}

// token records that API token id was used at at.
func (l *useLog) token(id int64, at time.Time) {
	l.record(l.tokens, store.Use{ID: id, At: at})
}

func (l *useLog) record(m map[int64]store.Use, u store.Use) {
	l.mu.Lock()
	if prev, ok := m[u.ID]; ok && !u.At.After(prev.At) {
		l.mu.Unlock()
		return
	}
	m[u.ID] = u
	if l.closed {
		l.mu.Unlock()
		l.flushLogged()
		return
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(l.delay, l.flushLogged)
	}
	l.mu.Unlock()
}

// seen is when session id was last used by what waits to be written, or
// the zero time.
func (l *useLog) seen(id int64) (time.Time, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.sessions[id]
	return u.At, u.IP
}

// sessionsWaiting and tokensWaiting are copies of the uses that wait to
// be written. Taken before a list is read, and laid over it: a use written
// between the two is in the list's read, one still waiting is in the copy.
func (l *useLog) sessionsWaiting() map[int64]store.Use { return l.copyOf(l.sessions) }
func (l *useLog) tokensWaiting() map[int64]store.Use   { return l.copyOf(l.tokens) }

func (l *useLog) copyOf(m map[int64]store.Use) map[int64]store.Use {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(m)
}

// laterUse is id's use in such a copy when it is later than read, what the
// list read for id.
func laterUse(waiting map[int64]store.Use, id int64, read time.Time) (store.Use, bool) {
	u, ok := waiting[id]
	return u, ok && u.At.After(read)
}

// Flush writes what waits now and returns when it is written, or when ctx
// ends first. Rows are written in the order of their ids, so that two
// instances' batches lock shared rows in the same order (PostgreSQL would
// otherwise abort one as a deadlock). A failed write's records stay for
// the next, a second later: the cache already counts them as written, so
// no request would record them again within the minute.
func (l *useLog) Flush(ctx context.Context) error {
	select {
	case l.writing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.writing }()
	l.mu.Lock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	sessions, tokens := byID(l.sessions), byID(l.tokens)
	l.mu.Unlock()
	if len(sessions)+len(tokens) == 0 {
		return nil
	}
	err := l.db.InTx(ctx, func(q *store.Q) error { return q.RecordUses(ctx, sessions, tokens) })
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if !l.closed && l.timer == nil {
			l.timer = time.AfterFunc(l.delay, l.flushLogged)
		}
		return err
	}
	// Written; a later record made during the write stays for the next.
	forgetWritten(l.sessions, sessions)
	forgetWritten(l.tokens, tokens)
	return nil
}

// byID is m's uses in the order of their ids.
func byID(m map[int64]store.Use) []store.Use {
	list := slices.Collect(maps.Values(m))
	slices.SortFunc(list, func(a, b store.Use) int { return cmp.Compare(a.ID, b.ID) })
	return list
}

// flushLogged is Flush from the timer, which has no one to answer to.
func (l *useLog) flushLogged() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		slog.Warn("recording sessions' and tokens' last use failed", "err", err)
	}
}

// Close writes what waits; later records are written at once.
func (l *useLog) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return l.Flush(ctx)
}

// forgetWritten removes the written uses from m unless a later one came.
func forgetWritten(m map[int64]store.Use, written []store.Use) {
	for _, u := range written {
		if cur, ok := m[u.ID]; ok && !cur.At.After(u.At) {
			delete(m, u.ID)
		}
	}
}
