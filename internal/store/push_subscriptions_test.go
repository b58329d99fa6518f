package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestPushSubscriptionsTenancy: a subscription is one row per endpoint
// hash, moving to whoever subscribes it last (also across workspaces);
// another workspace's subscription is neither listed, reached nor
// removable; a dead removal spares a row subscribed again after the bound.
func TestPushSubscriptionsTenancy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, ana := seed(t, db)
		globex, bo := seedSecond(t, db)
		var mu sync.Mutex
		clock := time.Now()
		db.SetClock(func() time.Time { // a second per reading: subscriptions are ordered
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Second)
			return clock
		})
		q := db.Writer()
		mk := func(u *core.User, hash string) *core.PushSubscription {
			t.Helper()
			p := &core.PushSubscription{WorkspaceID: u.WorkspaceID, UserID: u.ID, EndpointHash: []byte(hash), Sealed: []byte("sealed " + hash), Browser: "Firefox", OS: "Linux"}
			if err := q.SubscribePush(ctx, p); err != nil {
				t.Fatal(err)
			}
			return p
		}
		a1 := mk(ana, "endpoint-1")
		b1 := mk(bo, "endpoint-2")
		if a1.ID == 0 || b1.ID == 0 || a1.CreatedAt.IsZero() || !a1.LastUsedAt.IsZero() {
			t.Fatalf("subscribed %+v %+v", a1, b1)
		}
		// Another workspace's id: not Ana's to remove, not in her list.
		if ok, err := q.DeletePushSubscription(ctx, ws.ID, ana.ID, b1.ID); err != nil || ok {
			t.Fatalf("removed another workspace's subscription: %v %v", ok, err)
		}
		if ok, err := q.DeletePushSubscription(ctx, globex.ID, ana.ID, b1.ID); err != nil || ok {
			t.Fatalf("removed with the wrong person: %v %v", ok, err)
		}
		if ok, err := q.DeletePushSubscription(ctx, globex.ID, ana.ID, a1.ID); err != nil || ok {
			t.Fatalf("removed Ana's subscription through another workspace: %v %v", ok, err)
		}
		if ok, err := q.DeletePushEndpoint(ctx, ws.ID, ana.ID, []byte("endpoint-2")); err != nil || ok {
			t.Fatalf("removed another workspace's endpoint: %v %v", ok, err)
		}
		list, err := q.PushSubscriptions(ctx, ws.ID, ana.ID)
		if err != nil || len(list) != 1 || list[0].ID != a1.ID {
			t.Fatalf("Ana's list: %v %v", list, err)
		}
		reach, err := q.PushSubscribers(ctx, ws.ID, []int64{ana.ID, bo.ID})
		if err != nil || !reach[ana.ID] || reach[bo.ID] {
			t.Fatalf("subscribers of Acme: %v %v", reach, err)
		}
		// The same endpoint subscribed by Bo: Ana's row moves to Globex.
		moved := mk(bo, "endpoint-1")
		if moved.ID != a1.ID {
			t.Fatalf("re-subscription made row %d, want %d", moved.ID, a1.ID)
		}
		if list, _ := q.PushSubscriptions(ctx, ws.ID, ana.ID); len(list) != 0 {
			t.Fatalf("Ana still has %d", len(list))
		}
		if list, _ := q.PushSubscriptions(ctx, globex.ID, bo.ID); len(list) != 2 || list[0].ID != a1.ID {
			t.Fatalf("Bo's list, newest first: %+v", list)
		}
		// Gone, but subscribed again after the bound: kept.
		if ok, err := q.DeleteDeadPushSubscription(ctx, a1.ID, moved.SubscribedAt.Add(-time.Millisecond)); err != nil || ok {
			t.Fatalf("dead removal ignored the bound: %v %v", ok, err)
		}
		if ok, err := q.DeleteDeadPushSubscription(ctx, a1.ID, moved.SubscribedAt); err != nil || !ok {
			t.Fatalf("dead removal: %v %v", ok, err)
		}
		if ok, err := q.DeletePushSubscription(ctx, globex.ID, bo.ID, b1.ID); err != nil || !ok {
			t.Fatalf("owner's removal: %v %v", ok, err)
		}
	})
}

// TestVAPIDKeysInsertedOnce: concurrent inserts leave the first key pair.
func TestVAPIDKeysInsertedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, _, err := db.Reader().VAPIDKeys(ctx); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("before any: %v", err)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := db.Writer().InsertVAPIDKeys(ctx, string(rune('a'+i)), []byte{byte(i)}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		pub, sealed, err := db.Reader().VAPIDKeys(ctx)
		if err != nil || len(pub) != 1 || len(sealed) != 1 || pub[0]-'a' != sealed[0] {
			t.Fatalf("keys %q %v %v", pub, sealed, err)
		}
	})
}

// TestPushSubscriptionLife: subscribing the same endpoint again replaces
// its keys; when it passes to another person their record starts afresh
// (no dates of the one before); a subscription made in a web session ends
// with the session, one made without stays.
func TestPushSubscriptionLife(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, ana := seed(t, db)
		_, bo := seedSecond(t, db)
		q := db.Writer()
		start := time.Now()
		db.SetClock(func() time.Time { return start })
		sess := &core.Session{UserID: ana.ID, Kind: core.SessionWeb, TokenHash: []byte("session-hash"), CreatedAt: start, LastSeenAt: start, ExpiresAt: start.Add(time.Hour)}
		if err := q.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		p := &core.PushSubscription{WorkspaceID: ana.WorkspaceID, UserID: ana.ID, EndpointHash: []byte("e1"), Sealed: []byte("keys 1"), SessionID: sess.ID}
		if err := q.SubscribePush(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := q.TouchPushSubscriptions(ctx, []int64{p.ID}); err != nil {
			t.Fatal(err)
		}
		// Again, new keys: one row, the new keys, the same dates.
		db.SetClock(func() time.Time { return start.Add(time.Hour) })
		again := &core.PushSubscription{WorkspaceID: ana.WorkspaceID, UserID: ana.ID, EndpointHash: []byte("e1"), Sealed: []byte("keys 2"), SessionID: sess.ID}
		if err := q.SubscribePush(ctx, again); err != nil {
			t.Fatal(err)
		}
		list, _ := q.PushSubscriptions(ctx, ana.WorkspaceID, ana.ID)
		if len(list) != 1 || string(list[0].Sealed) != "keys 2" || !list[0].CreatedAt.Equal(p.CreatedAt) || list[0].LastUsedAt.IsZero() {
			t.Fatalf("subscribed again: %+v", list)
		}
		// To Bo, in another workspace: his, with no date of Ana's.
		moved := &core.PushSubscription{WorkspaceID: bo.WorkspaceID, UserID: bo.ID, EndpointHash: []byte("e1"), Sealed: []byte("keys 3")}
		if err := q.SubscribePush(ctx, moved); err != nil {
			t.Fatal(err)
		}
		if moved.ID != p.ID || !moved.LastUsedAt.IsZero() || moved.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("moved to Bo with Ana's dates: %+v", moved)
		}
		if l, _ := q.PushSubscriptions(ctx, ana.WorkspaceID, ana.ID); len(l) != 0 {
			t.Fatalf("Ana kept it: %+v", l)
		}
		// Back to Ana in her session; the session ends, and so does it.
		back := &core.PushSubscription{WorkspaceID: ana.WorkspaceID, UserID: ana.ID, EndpointHash: []byte("e1"), Sealed: []byte("keys 4"), SessionID: sess.ID}
		if err := q.SubscribePush(ctx, back); err != nil {
			t.Fatal(err)
		}
		other := &core.PushSubscription{WorkspaceID: ana.WorkspaceID, UserID: ana.ID, EndpointHash: []byte("e2"), Sealed: []byte("keys 5")}
		if err := q.SubscribePush(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := q.DeleteSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		list, _ = q.PushSubscriptions(ctx, ana.WorkspaceID, ana.ID)
		if len(list) != 1 || list[0].ID != other.ID {
			t.Fatalf("after the session ended: %+v", list)
		}
	})
}
