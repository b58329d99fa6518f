package notify

import (
	"errors"
	"slices"
	"strings"
	"time"

	"roster/internal/core"
)

// How long a push notification (mobile or browser) is worth delivering:
// a device offline longer does not get it, and a ringing call is worth
// nothing a couple of minutes later.
const (
	PushTTL     = 24 * time.Hour
	PushCallTTL = 2 * time.Minute
)

// PushExpiry is the instant after which n is no longer worth pushing.
func PushExpiry(n *core.Notification, now time.Time) time.Time {
	ttl := PushTTL
	if n.Type == "call.incoming" {
		ttl = PushCallTTL
	}
	created := n.CreatedAt
	if created.IsZero() {
		created = now
	}
	return created.Add(ttl)
}

// Urgent categories wake a device at once (high priority); the others
// may wait for its next wake-up.
func Urgent(category string) bool {
	switch Category(category) {
	case CategoryCalls, CategoryChats, CategoryMessages, CategorySecurity:
		return true
	}
	return false
}

// ByWorkspace groups the ids of users by workspace, for adapters' Reach
// queries, which each take one workspace.
func ByWorkspace(users []*core.User) map[int64][]int64 {
	out := map[int64][]int64{}
	for _, u := range users {
		out[u.WorkspaceID] = append(out[u.WorkspaceID], u.ID)
	}
	return out
}

// Outcomes gathers what one message did at each of a person's
// destinations on a push channel (devices, browsers), as texts for the
// delivery's error, and gives the delivery's result.
type Outcomes struct {
	Sent                       int
	Temporary, Permanent, Dead []string
	RetryAfter                 time.Duration // the longest a temporary failure asked for
}

// Err is the delivery's result: when any destination failed for now, a
// retry after RetryAfter, also when others took it (they get it again
// under the same collapse key, which replaces it); else nil when any took
// it; else Permanent, or Dead when every destination was gone.
func (o *Outcomes) Err(channel string) error {
	join := func(parts ...[]string) error {
		return errors.New(channel + ": " + strings.Join(slices.Concat(parts...), "; "))
	}
	switch {
	case len(o.Temporary) > 0:
		return &SendError{Err: join(o.Temporary, o.Permanent, o.Dead), RetryAfter: o.RetryAfter}
	case o.Sent > 0:
		return nil
	case len(o.Permanent) > 0:
		return &SendError{Err: join(o.Permanent, o.Dead), Permanent: true}
	}
	return &SendError{Err: join(o.Dead), Dead: true}
}
