package telegram

import (
	"slices"
	"sync"
	"time"
)

// Limits are Telegram's sending limits, kept on our side so the Bot API
// rarely has to answer 429.
type Limits struct {
	PerChat   int           // messages to one chat ...
	ChatSpan  time.Duration // ... within this span
	PerGroup  int           // messages to one group chat ...
	GroupSpan time.Duration
	Overall   int // messages in all ...
	Span      time.Duration
	// MaxWait is the longest a send waits for its turn; beyond it the
	// delivery is snoozed (a *notify.SendError with RetryAfter), so a
	// busy chat does not hold a River worker.
	MaxWait time.Duration
	// MaxChats bounds the per-chat windows kept in memory.
	MaxChats int
	// Margin widens every span: Telegram counts arrivals, and a request
	// can spend longer on its way than the one before it, so two
	// messages sent exactly a span apart may arrive closer.
	Margin time.Duration
}

// DefaultLimits are Telegram's published limits: 1 message a second per
// chat, 20 a minute per group, 30 a second overall, each kept with 100 ms
// to spare for network jitter.
var DefaultLimits = Limits{PerChat: 1, ChatSpan: time.Second, PerGroup: 20, GroupSpan: time.Minute, Overall: 30, Span: time.Second,
	MaxWait: 2 * time.Second, MaxChats: 10000, Margin: 100 * time.Millisecond}

// window allows at most n events in any span-long interval: it keeps the
// instants of the events it granted within the last span (and those
// granted ahead), in order. A sliding window says exactly what Telegram's
// limit says ("30 a second"), where a token bucket's float arithmetic can
// let a 31st through within one second.
type window struct {
	n     int
	span  time.Duration
	slots []time.Time // sorted
}

// prune forgets events that can no longer matter at or after now.
func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.slots) && !w.slots[i].After(now.Add(-w.span)) {
		i++
	}
	w.slots = w.slots[i:]
}

// fits reports whether an event at t keeps every span-long interval at
// most n events: with t among the sorted slots, no n+1 consecutive
// events lie within less than span.
func (w *window) fits(t time.Time) bool {
	p, _ := slices.BinarySearchFunc(w.slots, t, func(a, b time.Time) int { return a.Compare(b) })
	// Merged list m = slots[:p] + t + slots[p:]; check every run of n+1
	// consecutive events that includes t (positions k..k+n, k in
	// [p-n, p]).
	at := func(i int) time.Time {
		switch {
		case i < p:
			return w.slots[i]
		case i == p:
			return t
		default:
			return w.slots[i-1]
		}
	}
	total := len(w.slots) + 1
	for k := max(0, p-w.n); k <= p; k++ {
		if k+w.n >= total {
			break
		}
		if at(k+w.n).Sub(at(k)) < w.span {
			return false
		}
	}
	return true
}

// candidates are the instants at which an event not possible at from can
// become possible: when an event already granted leaves the window.
func (w *window) candidates(from time.Time, out []time.Time) []time.Time {
	for _, s := range w.slots {
		if c := s.Add(w.span); c.After(from) {
			out = append(out, c)
		}
	}
	return out
}

func (w *window) add(t time.Time) {
	p, _ := slices.BinarySearchFunc(w.slots, t, func(a, b time.Time) int { return a.Compare(b) })
	w.slots = slices.Insert(w.slots, p, t)
}

// chatWindows are the windows of one chat.
type chatWindows struct {
	windows []*window
	last    time.Time // the latest instant granted
}

// limiter grants each message an instant to be sent at that keeps every
// window within its limit.
type limiter struct {
	lim Limits
	now func() time.Time

	mu      sync.Mutex
	overall window
	chats   map[int64]*chatWindows
	paused  time.Time // Telegram asked us (429) to send nothing before
}

func newLimiter(lim Limits, now func() time.Time) *limiter {
	return &limiter{lim: lim, now: now, overall: window{n: lim.Overall, span: lim.Span + lim.Margin}, chats: map[int64]*chatWindows{}}
}

// isGroup: group and channel chats have negative ids.
func isGroup(chat int64) bool { return chat < 0 }

// chat returns the windows of chat, making them, and dropping idle ones
// when the map is full: a chat whose last message is older than its
// longest span has empty windows, the same as new ones.
func (l *limiter) chat(chat int64, now time.Time) *chatWindows {
	if c, ok := l.chats[chat]; ok {
		return c
	}
	if len(l.chats) >= l.lim.MaxChats {
		longest := max(l.lim.ChatSpan, l.lim.GroupSpan) + l.lim.Margin
		for id, c := range l.chats {
			if !c.last.After(now.Add(-longest)) {
				delete(l.chats, id)
			}
		}
	}
	c := &chatWindows{windows: []*window{{n: l.lim.PerChat, span: l.lim.ChatSpan + l.lim.Margin}}}
	if isGroup(chat) {
		c.windows = append(c.windows, &window{n: l.lim.PerGroup, span: l.lim.GroupSpan + l.lim.Margin})
	}
	l.chats[chat] = c
	return c
}

// reserve grants a message to chat the earliest instant allowed and
// returns how long to wait for it. When that is more than MaxWait it
// grants nothing and returns ok false with the wait.
func (l *limiter) reserve(chat int64) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	from := now
	if l.paused.After(from) {
		from = l.paused
	}
	c := l.chat(chat, now)
	all := append([]*window{&l.overall}, c.windows...)
	for _, w := range all {
		w.prune(now)
	}
	cands := []time.Time{from}
	for _, w := range all {
		cands = w.candidates(from, cands)
	}
	slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
	var at time.Time
	for _, t := range cands {
		if fitsAll(all, t) {
			at = t
			break
		}
	}
	// The last candidate (when every granted event has left its window)
	// always fits, so at is set.
	wait = at.Sub(now)
	if wait > l.lim.MaxWait {
		return wait, false
	}
	for _, w := range all {
		w.add(at)
	}
	if at.After(c.last) {
		c.last = at
	}
	return wait, true
}

func fitsAll(ws []*window, t time.Time) bool {
	for _, w := range ws {
		if !w.fits(t) {
			return false
		}
	}
	return true
}

// pause holds every send until until (Telegram's retry_after).
func (l *limiter) pause(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.paused) {
		l.paused = until
	}
}
