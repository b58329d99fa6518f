package httpx

import (
	"hash/maphash"
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

// limiterShards is how many parts a Limiter's keys are split into, each
// with its own lock: every API request passes through Allow, and with one
// lock a request whose thread the kernel paused while holding it held up
// all the others (0.74 s of waiting in a 2 s runtime trace under load).
const limiterShards = 32

// Limiter is a set of token buckets keyed by string (client IP, account,
// ...). Idle keys are dropped lazily during Allow, so there is no
// goroutine to stop. It is safe for concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration
	now   func() time.Time // swapped in tests

	seed   maphash.Seed
	shards [limiterShards]limiterShard
}

// limiterShard holds the keys whose hash falls to it.
type limiterShard struct {
	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
	_         [64]byte // its own cache line: neighbours' locks do not contend
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
	l := &Limiter{
		limit: rate.Limit(perSecond),
		burst: burst,
		idle:  idle,
		now:   time.Now,
		seed:  maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].keys = make(map[string]*bucket)
	}
	return l
}

// shard is the part of l that holds key.
func (l *Limiter) shard(key string) *limiterShard {
	return &l.shards[maphash.String(l.seed, key)%limiterShards]
}

// Allow takes one token for key. When none is left it returns false and
// how long until one will be; the token is not consumed, so a refused
// request costs the caller nothing. Callers reply 429 with a Retry-After
// of RetryAfterSeconds(retryAfter).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()

	now := l.now()
	if now.Sub(sh.lastSweep) >= limiterSweep {
		sh.sweep(now, l.idle)
	}
	b := sh.keys[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		sh.keys[key] = b
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

func (sh *limiterShard) sweep(now time.Time, idle time.Duration) {
	sh.lastSweep = now
	for k, b := range sh.keys {
		if now.Sub(b.seen) >= idle {
			delete(sh.keys, k)
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
