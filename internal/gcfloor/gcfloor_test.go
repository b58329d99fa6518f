package gcfloor

import (
	"context"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	p := Policy{Base: 150, Floor: 96 << 20, Busy: time.Second, Max: 2000}
	const mb = 1 << 20
	small := Heap{Live: 15 * mb, Stacks: 2 * mb, Globals: 1 * mb} // scanned 18 MB: runway 27 MB at 150
	for _, c := range []struct {
		name string
		heap Heap
		rate float64 // bytes/s
		want int
	}{
		{"idle: the base target collects less than once a second", small, 20 * mb, 150},
		{"busy: the floor, counting stacks and globals", small, 200 * mb, 450}, // 15 + 18 × 4.5 = 96 MB
		{"busy, the base's runway just passed", small, 28 * mb, 450},
		{"busy, heap whose base target passes the floor", Heap{Live: 40 * mb, Stacks: 2 * mb}, 500 * mb, 150},
		{"busy, live heap over the floor", Heap{Live: 100 * mb}, 500 * mb, 150},
		{"busy, tiny heap: bounded by Max", Heap{Live: 1 * mb}, 100 * mb, 2000},
		{"no reading of the live heap", Heap{}, 100 * mb, 150},
	} {
		if got := p.Percent(c.heap, c.rate); got != c.want {
			t.Errorf("%s: Percent(%+v, %.0f MB/s) = %d, want %d", c.name, c.heap, c.rate/mb, got, c.want)
		}
	}
	// The target reached makes Go's goal (live + scanned × percent/100)
	// the floor, not more.
	pct := p.Percent(small, 200*mb)
	if goal := small.Live + small.scanned()*uint64(pct)/100; goal < p.Floor || goal > p.Floor+small.scanned()/100 {
		t.Errorf("goal %d MB at %d %%, want the floor %d MB", goal/mb, pct, p.Floor/mb)
	}
	if got := Default(150); got.Base != 150 || got.Floor != 96*mb || got.Busy != time.Second {
		t.Errorf("Default(150) = %+v", got)
	}
}

func forcedCollections() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func gcPercent(t *testing.T) int {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitPercent polls the GC target until cond holds, making garbage with
// churn meanwhile (nil: none), and fails after 10 s.
func waitPercent(t *testing.T, what string, cond func(int) bool, churn func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(gcPercent(t)) {
		if time.Now().After(deadline) {
			t.Fatalf("GC target %d: never %s", gcPercent(t), what)
		}
		if churn != nil {
			churn()
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestRunFollowsTheLoad: a process making garbage fast (collections close
// together, a small live heap) gets a target that lets its heap reach the
// floor; once its collections come far apart it has the base again; and
// when Run's context ends, the base stays.
func TestRunFollowsTheLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := Policy{Base: 100, Floor: 64 << 20, Busy: 300 * time.Millisecond, Max: 2000}
	Run(ctx, p)
	if got := gcPercent(t); got != p.Base {
		t.Fatalf("GC target %d after Run, want the base %d", got, p.Base)
	}

	var keep [][]byte
	churn := func() {
		for range 256 {
			keep = append(keep, make([]byte, 64<<10))
			if len(keep) > 16 {
				keep = keep[1:]
			}
		}
	}
	waitPercent(t, "raised while busy", func(pct int) bool { return pct > p.Base }, churn)

	// Idle: with no collection for twice Busy, the base is back, and the
	// heap is collected and handed back at once (a forced collection).
	keep = nil
	forced := forcedCollections()
	stopped := time.Now()
	waitPercent(t, "back to the base once idle", func(pct int) bool { return pct == p.Base }, nil)
	if waited := time.Since(stopped); waited < p.Busy {
		t.Errorf("base back %v after the load stopped, before Busy (%v) had passed", waited, p.Busy)
	}
	for deadline := time.Now().Add(5 * time.Second); forcedCollections() == forced; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no collection forced once idle: the floor's heap stays until the next collection")
		}
	}
	// Busy again: raised again.
	waitPercent(t, "raised when busy again", func(pct int) bool { return pct > p.Base }, churn)

	// Stopped: the base at once (context.AfterFunc runs in its own
	// goroutine), and it stays though busy.
	cancel()
	waitPercent(t, "the base after Run's context ended", func(pct int) bool { return pct == p.Base }, nil)
	until := time.Now().Add(time.Second)
	for time.Now().Before(until) {
		churn()
		if got := gcPercent(t); got != p.Base {
			t.Fatalf("GC target %d after Run's context ended, want the base %d", got, p.Base)
		}
	}
}
