// Package gcfloor lets a busy server's heap grow to a floor before Go
// collects it, and keeps Go's proportional target otherwise.
//
// Go collects when the heap grows past its live part by GOGC percent of
// what a collection scans. Serving small answers fast, a server's live
// heap is small (about 15 MB for GET /api/v1/me at 25,000 requests/s), so
// it collected ten times a second, and each collection stops every
// processor twice: on 2 cores shared with other processes, waiting for a
// processor whose thread the kernel has paused took several milliseconds
// (issue 11's p99). While the server allocates fast enough that the base
// target would collect more than once per Busy (busy), the target is
// raised so the heap may reach the floor first; otherwise (idle) it is
// the base, so an idle server's footprint stays what it was. A larger
// live heap (open streams, sign-ins) is above the floor anyway and keeps
// the base target.
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
	// Busy: allocating enough that the base target would collect more
	// than once in Busy means the server is busy.
	Busy time.Duration
	// Max bounds the target (percent), whatever the live heap.
	Max int
}

// Default is the policy serve runs with over its --gc-percent.
func Default(base int) Policy {
	return Policy{Base: base, Floor: 96 << 20, Busy: time.Second, Max: 2000}
}

// Heap is what the last collection found: the live heap, and the
// goroutine stacks and globals it scanned.
type Heap struct {
	Live, Stacks, Globals uint64
}

// scanned is what Go's pacer multiplies by GOGC: its heap goal is
// Live + (Live + Stacks + Globals) × GOGC/100.
func (h Heap) scanned() uint64 { return h.Live + h.Stacks + h.Globals }

// busy reports whether allocating rate bytes a second would collect more
// than once in p.Busy at the base target.
func (p Policy) busy(h Heap, rate float64) bool {
	runway := float64(h.scanned()) * float64(p.Base) / 100
	return rate*p.Busy.Seconds() > runway
}

// Percent is the GC target for heap h while the program allocates rate
// bytes a second.
func (p Policy) Percent(h Heap, rate float64) int {
	if h.Live == 0 || h.Live >= p.Floor || !p.busy(h, rate) {
		return p.Base
	}
	// Live + scanned × percent/100 ≥ Floor
	s := h.scanned()
	want := int(((p.Floor-h.Live)*100 + s - 1) / s)
	return max(p.Base, min(want, p.Max))
}

// Run sets the GC target after each collection until ctx ends, then puts
// the base back. It returns at once; the work is done in the finalizer
// goroutine, a few microseconds per collection.
func Run(ctx context.Context, p Policy) {
	t := &tuner{policy: p, applied: p.Base}
	t.samples = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	t.read() // the allocation count to measure the first rate from
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
	applied int
	samples []metrics.Sample
	// heap, allocs and at are the last reading.
	heap   Heap
	allocs uint64
	at     time.Time
	// quiet looks again twice Busy after a raise when no collection has
	// come: the load may have stopped, and an idle server would otherwise
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

// read takes a reading and returns the allocation rate since the last;
// ok is false when that was less than a tenth of Busy ago, too short a
// time to tell (a collection forced just after one), and the window then
// runs on to the next reading.
func (t *tuner) read() (rate float64, ok bool) {
	metrics.Read(t.samples)
	v := func(i int) uint64 {
		if t.samples[i].Value.Kind() == metrics.KindUint64 {
			return t.samples[i].Value.Uint64()
		}
		return 0
	}
	t.heap = Heap{Live: v(0), Stacks: v(1), Globals: v(2)}
	now, allocs := time.Now(), v(3)
	d := now.Sub(t.at)
	if !t.at.IsZero() && d < t.policy.Busy/10 {
		return 0, false
	}
	if !t.at.IsZero() && allocs >= t.allocs {
		rate, ok = float64(allocs-t.allocs)/d.Seconds(), true
	}
	t.allocs, t.at = allocs, now
	return rate, ok
}

func (t *tuner) collected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	if rate, ok := t.read(); ok { // and this collection's heap
		t.apply(t.policy.Percent(t.heap, rate))
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

// settle, twice Busy after the last collection, puts the base target back
// if the allocation since then is an idle server's, and has the heap
// collected and handed back to the system at once: an idle server's next
// allocation that would start a collection may be minutes away.
func (t *tuner) settle() {
	if t.settled() {
		debug.FreeOSMemory()
	}
}

func (t *tuner) settled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.applied == t.policy.Base {
		return false
	}
	// The heap read is still the last collection's: the metrics change
	// only at collections.
	if rate, ok := t.read(); !ok || t.policy.busy(t.heap, rate) {
		t.quiet.Reset(2 * t.policy.Busy)
		return false
	}
	t.apply(t.policy.Base)
	return true
}

func (t *tuner) apply(pct int) {
	if pct != t.applied {
		debug.SetGCPercent(pct)
		t.applied = pct
	}
}
