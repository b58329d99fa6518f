package httpx

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Default rate limit: a steady 7 requests a second per key, with bursts
// of up to 14.
const (
	DefaultRate  = 7
	DefaultBurst = 14
)

const (
	// limiterIdle is how long an unused key is kept.
	limiterIdle = 10 * time.Minute
	// limiterSweep is how often, at most, Allow scans for idle keys.
	limiterSweep = time.Minute
)

// Limiter is a set of token buckets keyed by string (client IP, account,
// ...). Idle keys are dropped lazily during Allow, so there is no
// goroutine to stop. It is safe for concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration

	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
	now       func() time.Time // swapped in tests
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewLimiter returns a limiter allowing perSecond requests a second per
// key with the given burst. Non-positive values select DefaultRate and
// DefaultBurst.
func NewLimiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		perSecond = DefaultRate
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	idle := limiterIdle
	// Never forget a key before its bucket has refilled, or a slow limit
	// (say 5 an hour) would reset after ten idle minutes.
	if secs := float64(burst) / perSecond; secs > idle.Seconds() {
		idle = time.Duration(min(secs, 1e9) * float64(time.Second))
	}
	return &Limiter{
		limit: rate.Limit(perSecond),
		burst: burst,
		idle:  idle,
		keys:  make(map[string]*bucket),
		now:   time.Now,
	}
}

// Allow takes one token for key. When none is left it returns false and
// how long until one will be; the token is not consumed, so a refused
// request costs the caller nothing. Callers reply 429 with a Retry-After
// of RetryAfterSeconds(retryAfter).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	now := l.now()
	if now.Sub(l.lastSweep) >= limiterSweep {
		l.sweep(now)
	}
	b := l.keys[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.keys[key] = b
	}
	b.seen = now

	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, l.idle // cannot happen with burst >= 1
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.keys {
		if now.Sub(b.seen) >= l.idle {
			delete(l.keys, k)
		}
	}
}

// RetryAfterSeconds converts a wait into a Retry-After value: whole
// seconds, rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
