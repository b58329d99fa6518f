// Package logbuf gathers a server's log lines into few writes.
//
// Why: each request's access line was one write(2) to the log, made under
// slog's lock. When the kernel paused the thread inside that write, every
// other request waited for the lock: a runtime trace of 2 s of GET
// /api/v1/me at 25,000 requests/s on 2 cores (issue 11) had the requests
// waiting 5.7 s in all for it. Here a line is copied into a buffer under
// a lock held for the copy alone, and the buffer goes out in one write
// when it fills or shortly after its first line, outside that lock.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults: lines wait at most a tenth of a second; 64 KiB (some 300
// access lines) go out at once.
const (
	DefaultInterval = 100 * time.Millisecond
	DefaultLimit    = 64 << 10
)

// Writer is an io.Writer that gathers what it is given and writes it to
// the io.Writer under it in order: within its interval, as soon as it
// holds its limit (from another goroutine), and on Flush and Close. At
// four times its limit, writers wait for the writes. Safe for concurrent
// use.
type Writer struct {
	w        io.Writer
	interval time.Duration
	limit    int
	timer    *time.Timer

	mu     sync.Mutex // buf, kicked, closed
	buf    []byte
	kicked bool // the timer was set to write the full buffer out now
	closed bool

	out   sync.Mutex // one write to w at a time, in order; spare, err
	spare []byte
	err   error // the first failed write's, for the next Flush or Close
}

// New returns a Writer over w.
func New(w io.Writer, interval time.Duration, limit int) *Writer {
	b := &Writer{w: w, interval: interval, limit: limit}
	b.timer = time.AfterFunc(time.Hour, b.writeOut)
	b.timer.Stop()
	return b
}

// Write copies p to be written; after Close it writes p through. Errors
// of the writes made later are the next Flush's or Close's.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.out.Lock()
		defer b.out.Unlock()
		return b.w.Write(p)
	}
	if len(b.buf) == 0 {
		b.timer.Reset(b.interval)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= b.limit && !b.kicked {
		// Full: the timer's goroutine writes it out now, not this
		// writer, which may hold a lock of its own (slog's).
		b.kicked = true
		b.timer.Reset(0)
	}
	behind := len(b.buf) >= 4*b.limit
	b.mu.Unlock()
	if behind {
		// The log cannot keep up: its writers wait for it rather than
		// the buffer growing without bound.
		b.writeOut()
	}
	return len(p), nil
}

// Flush writes out what has been gathered. Its error is the first write
// that failed since the last Flush, its own or the timer's.
func (b *Writer) Flush() error {
	b.out.Lock()
	defer b.out.Unlock()
	return b.flush(false, true)
}

// writeOut is Flush whose error waits for the next Flush or Close (the
// timer's, and a writer's far behind).
func (b *Writer) writeOut() {
	b.out.Lock()
	defer b.out.Unlock()
	_ = b.flush(false, false)
}

// flush is Flush with b.out held; closing marks b closed in the same step,
// so that no later line can go through ahead of the gathered ones; report
// returns (and forgets) the first failed write's error, else it is kept.
func (b *Writer) flush(closing, report bool) error {
	b.mu.Lock()
	data := b.buf
	b.buf, b.kicked = b.spare[:0], false
	if closing {
		b.closed = true
	}
	b.mu.Unlock()
	b.spare = data[:0]
	if len(data) > 0 {
		if _, err := b.w.Write(data); err != nil && b.err == nil {
			b.err = err
		}
	}
	if !report {
		return nil
	}
	err := b.err
	b.err = nil
	return err
}

// Close writes out what has been gathered; later writes go straight
// through.
func (b *Writer) Close() error {
	b.timer.Stop()
	b.out.Lock()
	defer b.out.Unlock()
	return b.flush(true, true)
}

// Handler returns h, which writes to w, with every record of level Warn
// and above written out before Handle returns: warnings and errors never
// wait, and one just before a crash is not lost.
func Handler(h slog.Handler, w *Writer) slog.Handler { return flushing{h, w} }

type flushing struct {
	slog.Handler
	w *Writer
}

func (f flushing) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := f.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{f.Handler.WithAttrs(attrs), f.w}
}

func (f flushing) WithGroup(name string) slog.Handler {
	return flushing{f.Handler.WithGroup(name), f.w}
}
