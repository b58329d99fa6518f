package notify

import (
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
