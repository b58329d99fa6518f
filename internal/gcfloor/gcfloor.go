// Package gcfloor lets a busy server's heap grow to a floor before Go
// collects it, and keeps Go's proportional target otherwise.
//
// Go collects when the heap reaches its live part times (1 + GOGC/100).
// Serving small answers fast, a server's live heap is small (about 15 MB
// for GET /api/v1/me at 25,000 requests/s), so it collected ten times a
// second, and each collection stops every processor twice: on 2 cores
// shared with other processes, waiting for a processor whose thread the
// kernel has paused took several milliseconds (issue 11's p99). While
// collections come close together (busy), the target is raised so the
// heap may reach the floor first; once they come far apart, or none comes
// for twice that time (idle), it is the base again, so an idle server's
// footprint goes back to what it was.
// A larger live heap (open streams, sign-ins) is above the floor anyway
// and keeps the base target.
package gcfloor

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Policy is the floor and when it applies.
type Policy struct {
	// Base is the GC target (GOGC percent) when idle, or when the live
	// heap is large enough that the base reaches the floor.
	Base int
	// Floor is the heap size, in bytes, a busy server may grow to before
	// a collection.
	Floor uint64
	// Busy: collections less than this apart mean the server is busy.
	Busy time.Duration
	// Max bounds the target (percent), whatever the live heap.
	Max int
}

// Default is the policy serve runs with over its --gc-percent.
func Default(base int) Policy {
	return Policy{Base: base, Floor: 96 << 20, Busy: time.Second, Max: 2000}
}

// Percent is the GC target for a live heap of live bytes whose last two
// collections came apart by interval.
func (p Policy) Percent(live uint64, interval time.Duration) int {
	if interval >= p.Busy || live == 0 {
		return p.Base
	}
	// goal = live × (1 + percent/100) ≥ Floor
	want := int((p.Floor*100+live-1)/live) - 100
	return max(p.Base, min(want, p.Max))
}

// Run sets the GC target after each collection until ctx ends, then puts
// the base back. It returns at once; the work is done in the finalizer
// goroutine, a few microseconds per collection.
func Run(ctx context.Context, p Policy) {
	t := &tuner{policy: p, applied: p.Base, last: time.Now()}
	debug.SetGCPercent(p.Base)
	t.arm()
	context.AfterFunc(ctx, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		if t.quiet != nil {
			t.quiet.Stop()
		}
		debug.SetGCPercent(p.Base)
	})
}

type tuner struct {
	policy Policy
	mu     sync.Mutex
	// stopped ends the finalizers' chain; the target is the base again.
	stopped bool
	last    time.Time
	applied int
	sample  [1]metrics.Sample
	// quiet puts the base back when no collection follows a raise within
	// twice Busy: the load has stopped, and an idle server would otherwise
	// keep the floor's heap until its next collection, minutes later.
	quiet *time.Timer
}

// sentinel is garbage whose finalizer runs after the collection that
// found it unreachable: one per collection, each arming the next. It is
// larger than the tiny allocator's 16 bytes, whose blocks share one
// object and would delay it.
type sentinel struct{ _ [32]byte }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { t.collected() })
}

func (t *tuner) collected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	now := time.Now()
	interval := now.Sub(t.last)
	t.last = now
	t.sample[0].Name = "/gc/heap/live:bytes"
	metrics.Read(t.sample[:])
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	if pct := t.policy.Percent(live, interval); pct != t.applied {
		debug.SetGCPercent(pct)
		t.applied = pct
	}
	if t.applied != t.policy.Base {
		if t.quiet == nil {
			t.quiet = time.AfterFunc(2*t.policy.Busy, t.settle)
		} else {
			t.quiet.Reset(2 * t.policy.Busy)
		}
	}
	t.arm()
}

// settle puts the base target back once collections have stopped coming:
// the heap past it is then collected at the next allocation.
func (t *tuner) settle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.applied == t.policy.Base || time.Since(t.last) < t.policy.Busy {
		return
	}
	debug.SetGCPercent(t.policy.Base)
	t.applied = t.policy.Base
}
