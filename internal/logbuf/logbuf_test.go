package logbuf_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/logbuf"
)

// sink is the io.Writer under a Writer: it keeps what it is given and
// counts the writes; while hold is set, each write waits for it.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	hold   chan struct{}
	inside chan struct{}
}

func (s *sink) Write(p []byte) (int, error) {
	if s.hold != nil {
		s.inside <- struct{}{}
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestEveryLineInOrderInFewWrites: lines written from many goroutines all
// reach the writer under it, each whole and each goroutine's in order, in
// far fewer writes than lines.
func TestEveryLineInOrderInFewWrites(t *testing.T) {
	var s sink
	w := logbuf.New(&s, time.Hour, 4096)
	const goroutines, lines = 8, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, goroutines)
	for _, l := range strings.Split(strings.TrimSuffix(s.String(), "\n"), "\n") {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d line %d", &g, &i); err != nil || i != next[g] {
			t.Fatalf("line %q: want g%d line %d", l, g, next[g])
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("g%d: %d lines, want %d", g, n, lines)
		}
	}
	if s.writes > goroutines*lines/100 {
		t.Errorf("%d lines in %d writes", goroutines*lines, s.writes)
	}
}

// TestLinesWaitAtMostTheInterval: a line is held until the interval has
// passed (or the buffer fills, or Flush), then written without anything
// else happening.
func TestLinesWaitAtMostTheInterval(t *testing.T) {
	var s sink
	w := logbuf.New(&s, time.Hour, 100)
	fmt.Fprintln(w, "held")
	if s.String() != "" {
		t.Fatal("a line went out before its interval, the buffer not full")
	}
	fmt.Fprintln(w, strings.Repeat("x", 100))
	for deadline := time.Now().Add(10 * time.Second); !strings.HasPrefix(s.String(), "held\nxxx"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a full buffer was not written out: %q", s.String())
		}
	}
	fmt.Fprintln(w, "flushed")
	if err := w.Flush(); err != nil || !strings.HasSuffix(s.String(), "flushed\n") {
		t.Fatalf("Flush: %v %q", err, s.String())
	}

	var quick sink
	w = logbuf.New(&quick, 10*time.Millisecond, 1<<20)
	defer w.Close()
	fmt.Fprintln(w, "soon")
	for deadline := time.Now().Add(10 * time.Second); quick.String() == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a line was never written out")
		}
	}
}

// TestWriteDoesNotWaitForTheWriterUnder: while the writer under it is
// stuck in a write (the kernel has paused it), lines are still taken.
func TestWriteDoesNotWaitForTheWriterUnder(t *testing.T) {
	s := sink{hold: make(chan struct{}), inside: make(chan struct{}, 16)}
	w := logbuf.New(&s, time.Hour, 1024)
	fmt.Fprintln(w, "first")
	go w.Flush()
	<-s.inside
	done := make(chan struct{})
	go func() {
		fmt.Fprintln(w, "second")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a line waited for the write of the ones before it")
	}
	// Far past its limit the writers wait: the buffer is bounded.
	line := strings.Repeat("x", 99) + "\n"
	bounded := make(chan struct{})
	go func() {
		for range 40 * 1024 / len(line) {
			fmt.Fprint(w, line)
		}
		close(bounded)
	}()
	time.Sleep(200 * time.Millisecond) // time to run past the bound, were there none
	select {
	case <-bounded:
		t.Fatal("40 KiB were taken into a buffer of 1 KiB while nothing could be written")
	default:
	}
	close(s.hold) // the later writes pass
	<-bounded
	if err := w.Close(); err != nil || !strings.HasPrefix(s.String(), "first\nsecond\nxxx") || len(s.String()) != 13+40*1024/len(line)*len(line) {
		t.Fatalf("%v %q...", err, s.String()[:20])
	}
}

// TestWarningsGoOutAtOnce: through Handler, a warning or an error is
// written out, with every line before it, before the call returns.
func TestWarningsGoOutAtOnce(t *testing.T) {
	var s sink
	w := logbuf.New(&s, time.Hour, 1<<20)
	logger := slog.New(logbuf.Handler(slog.NewTextHandler(w, nil), w)).With("app", "roster")
	logger.Info("request")
	if s.String() != "" {
		t.Fatal("an info line went out at once")
	}
	logger.Warn("trouble")
	out := s.String()
	if !strings.Contains(out, "msg=request app=roster") || !strings.Contains(out, "msg=trouble app=roster") ||
		strings.Index(out, "request") > strings.Index(out, "trouble") {
		t.Fatalf("after a warning: %q", out)
	}
	logger.WithGroup("g").Error("failed", "k", 1)
	if !strings.Contains(s.String(), "msg=failed app=roster g.k=1") {
		t.Fatalf("after an error: %q", s.String())
	}
}

// TestWritesGoThroughOnceClosed: what is logged after Close (a shutdown's
// last lines) is written at once.
func TestWritesGoThroughOnceClosed(t *testing.T) {
	var s sink
	w := logbuf.New(&s, time.Hour, 1<<20)
	fmt.Fprintln(w, "before")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, "after")
	if s.String() != "before\nafter\n" {
		t.Fatalf("%q", s.String())
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteErrorsAreReported: a failed write, the timer's included, is
// the next Flush's or Close's error, not lost.
func TestWriteErrorsAreReported(t *testing.T) {
	w := logbuf.New(failing{}, time.Millisecond, 1<<20)
	fmt.Fprintln(w, "lost")
	time.Sleep(50 * time.Millisecond) // the timer's write fails
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush after the timer's failed write: %v", err)
	}
	fmt.Fprintln(w, "lost too")
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write: no error")
	}
}
