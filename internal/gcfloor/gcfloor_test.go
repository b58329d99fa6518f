package gcfloor

import (
	"context"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	p := Policy{Base: 150, Floor: 96 << 20, Busy: time.Second, Max: 2000}
	for _, c := range []struct {
		name     string
		live     uint64
		interval time.Duration
		want     int
	}{
		{"idle: collections a second apart or more", 16 << 20, time.Second, 150},
		{"busy, small heap: the floor", 16 << 20, 100 * time.Millisecond, 500},         // 16 MB × 6 = 96 MB
		{"busy, rounded up to reach the floor", 15 << 20, 100 * time.Millisecond, 540}, // 15 MB × 6.4 = 96 MB
		{"busy, heap whose base target passes the floor", 40 << 20, 100 * time.Millisecond, 150},
		{"busy, tiny heap: bounded by Max", 1 << 20, 100 * time.Millisecond, 2000},
		{"no reading of the live heap", 0, 100 * time.Millisecond, 150},
	} {
		if got := p.Percent(c.live, c.interval); got != c.want {
			t.Errorf("%s: Percent(%d MB, %v) = %d, want %d", c.name, c.live>>20, c.interval, got, c.want)
		}
	}
	if got := Default(150); got.Base != 150 || got.Floor != 96<<20 || got.Busy != time.Second {
		t.Errorf("Default(150) = %+v", got)
	}
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

	// Idle: with no collection for twice Busy, the base is back.
	keep = nil
	stopped := time.Now()
	waitPercent(t, "back to the base once idle", func(pct int) bool { return pct == p.Base }, nil)
	if waited := time.Since(stopped); waited < p.Busy {
		t.Errorf("base back %v after the load stopped, before Busy (%v) had passed", waited, p.Busy)
	}
	// Busy again: raised again.
	waitPercent(t, "raised when busy again", func(pct int) bool { return pct > p.Base }, churn)

	// Stopped: busy again, but the target stays the base.
	cancel()
	time.Sleep(10 * time.Millisecond) // context.AfterFunc runs in its own goroutine
	until := time.Now().Add(time.Second)
	for time.Now().Before(until) {
		churn()
		if got := gcPercent(t); got != p.Base {
			t.Fatalf("GC target %d after Run's context ended, want the base %d", got, p.Base)
		}
	}
}
