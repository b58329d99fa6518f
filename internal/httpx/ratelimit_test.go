package httpx

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterBurstThenRefused(t *testing.T) {
	// A tiny rate: the burst is all there is during the test.
	l := NewLimiter(0.001, 3)
	for i := range 3 {
		if ok, _ := l.Allow("1.2.3.4"); !ok {
			t.Fatalf("request %d refused within burst", i+1)
		}
	}
	ok, retry := l.Allow("1.2.3.4")
	if ok || retry <= 0 {
		t.Fatalf("after burst: ok=%v retryAfter=%v, want refused with a wait", ok, retry)
	}
	if ok, _ := l.Allow("5.6.7.8"); !ok {
		t.Fatal("another key was refused")
	}
}

// TestLimiterDefaults: the documented API rate, 7 a second with bursts of
// 14, compared with literal numbers and seen in behaviour.
func TestLimiterDefaults(t *testing.T) {
	l := NewLimiter(0, 0)
	if float64(l.limit) != 7 || l.burst != 14 {
		t.Fatalf("defaults = %v/%d, documented 7/14", l.limit, l.burst)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	for i := range 14 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst of 14 refused", i+1)
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a 15th request at once allowed")
	}
	now = now.Add(time.Second) // 7 tokens come back
	for i := range 7 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of 7 a second later refused", i+1)
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("an 8th request within the second allowed")
	}
}

func TestLimiterRefillAndExpiry(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(1, 1)
	l.now = func() time.Time { return now }

	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first refused")
	}
	ok, retry := l.Allow("a")
	if ok || retry != time.Second {
		t.Fatalf("second: ok=%v retry=%v, want refused, 1s", ok, retry)
	}
	// A refused request does not consume: one second later a token is back.
	now = now.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused after refill")
	}

	l.Allow("b")
	now = now.Add(9 * time.Minute)
	l.Allow("b") // keeps b fresh, sweeps nothing yet
	now = now.Add(2 * time.Minute)
	// Keys are swept by the requests of their own shard: a idle 11m is
	// dropped; b idle 2m is kept.
	l.Allow(neighbour(l, "a"))
	l.Allow(neighbour(l, "b"))
	if _, ok := l.shard("a").keys["a"]; ok {
		t.Error("idle key a not expired")
	}
	if _, ok := l.shard("b").keys["b"]; !ok {
		t.Error("recent key b expired")
	}
}

// neighbour is another key that falls to key's shard.
func neighbour(l *Limiter, key string) string {
	for i := 0; ; i++ {
		if k := fmt.Sprint("other-", i); l.shard(k) == l.shard(key) {
			return k
		}
	}
}

// TestLimiterKeysSpreadOverShards: keys fall to different shards (one lock
// for all held up every request whenever its holder's thread was paused).
func TestLimiterKeysSpreadOverShards(t *testing.T) {
	l := NewLimiter(0, 0)
	used := map[*limiterShard]bool{}
	for i := range 1000 {
		key := fmt.Sprint("token-", i)
		l.Allow(key)
		used[l.shard(key)] = true
	}
	if len(used) != 32 {
		t.Fatalf("1,000 keys fell to %d shards, want 32", len(used))
	}
}

func TestLimiterSlowRateKeepsKeyUntilRefilled(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(1.0/3600, 1) // one an hour
	l.now = func() time.Time { return now }
	l.Allow("a")
	now = now.Add(30 * time.Minute)
	if ok, _ := l.Allow("x"); !ok {
		t.Fatal("x refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("slow-rate key forgotten after 30 idle minutes")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{1001 * time.Millisecond, 2},
		{90 * time.Second, 90},
	}
	for _, tt := range tests {
		if got := RetryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
