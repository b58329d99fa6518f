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

// seedSecond adds workspace Globex with its user Bo.
func seedSecond(t *testing.T, db *store.DB) (*core.Workspace, *core.User) {
	t.Helper()
	ctx := context.Background()
	ws := &core.Workspace{Name: "Globex", Timezone: "UTC", Language: "en"}
	u := &core.User{Name: "Bo", Email: "bo@example.com", PasswordHash: "h", Role: core.RoleAdmin, State: core.StateActive,
		Language: "en", Timezone: "UTC"}
	if err := db.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		u.WorkspaceID = ws.ID
		return q.CreateUser(ctx, u)
	}); err != nil {
		t.Fatal(err)
	}
	return ws, u
}

// TestTelegramTokenClaimedOnce: of 16 concurrent claims of one token one
// gets its owner; a claimed, an expired or an unknown token gives nothing.
func TestTelegramTokenClaimedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ws, u := seed(t, db)
		now := time.Now()
		hash := []byte("0123456789abcdef0123456789abcdef")
		if err := db.Writer().AddTelegramLinkToken(ctx, ws.ID, u.ID, hash, now.Add(15*time.Minute)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wsID, userID, ok, err := db.Writer().ClaimTelegramLinkToken(ctx, hash, now)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
					if wsID != ws.ID || userID != u.ID {
						t.Errorf("claimed for %d/%d", wsID, userID)
					}
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d claims of one token succeeded", wins)
		}
		// Expiry: usable just before, not at the instant.
		late := []byte("late-late-late-late-late-late-32")
		if err := db.Writer().AddTelegramLinkToken(ctx, ws.ID, u.ID, late, now.Add(15*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, _, ok, _ := db.Writer().ClaimTelegramLinkToken(ctx, late, now.Add(15*time.Minute)); ok {
			t.Fatal("an expired token was claimed")
		}
		if _, _, ok, _ := db.Writer().ClaimTelegramLinkToken(ctx, late, now.Add(15*time.Minute-time.Millisecond)); !ok {
			t.Fatal("a token was refused before it expired")
		}
		if _, _, ok, _ := db.Writer().ClaimTelegramLinkToken(ctx, []byte("unknown"), now); ok {
			t.Fatal("an unknown token was claimed")
		}
	})
}

// TestTelegramLinksTenancy: links are read and removed only within their
// workspace; /stop of a chat removes its links in every workspace.
func TestTelegramLinksTenancy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acme, ana := seed(t, db)
		globex, bo := seedSecond(t, db)
		q := db.Writer()
		at := time.UnixMilli(time.Now().UnixMilli()).UTC()
		for _, l := range []core.TelegramLink{{UserID: ana.ID, WorkspaceID: acme.ID, ChatID: 42, Username: "ana", LinkedAt: at},
			{UserID: bo.ID, WorkspaceID: globex.ID, ChatID: 42, Username: "ana", LinkedAt: at}} {
			if err := q.LinkTelegram(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := q.TelegramLink(ctx, globex.ID, ana.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("Ana's link read through Globex: %v", err)
		}
		if got, err := q.TelegramLinked(ctx, globex.ID, []int64{ana.ID, bo.ID}); err != nil || got[ana.ID] || !got[bo.ID] {
			t.Fatalf("linked in Globex: %v %v", got, err)
		}
		if ok, err := q.UnlinkTelegram(ctx, globex.ID, ana.ID, 0); ok || err != nil {
			t.Fatalf("Ana unlinked through Globex: %v %v", ok, err)
		}
		if ok, _ := q.UnlinkTelegram(ctx, acme.ID, ana.ID, 7); ok {
			t.Fatal("unlinked while linked to another chat")
		}
		// Relinking replaces.
		if err := q.LinkTelegram(ctx, core.TelegramLink{UserID: ana.ID, WorkspaceID: acme.ID, ChatID: 43, Username: "ana2", LinkedAt: at}); err != nil {
			t.Fatal(err)
		}
		if l, err := q.TelegramLink(ctx, acme.ID, ana.ID); err != nil || l.ChatID != 43 || l.Username != "ana2" || !l.LinkedAt.Equal(at) {
			t.Fatalf("relinked: %+v %v", l, err)
		}
		gone, err := q.UnlinkTelegramChat(ctx, 42)
		if err != nil || len(gone) != 1 || gone[0].UserID != bo.ID {
			t.Fatalf("stop of chat 42: %+v %v", gone, err)
		}
		if ok, err := q.UnlinkTelegram(ctx, acme.ID, ana.ID, 43); !ok || err != nil {
			t.Fatalf("unlink: %v %v", ok, err)
		}
	})
}

// TestTelegramOffsetNeverMovesBack: a late writer cannot move the stored
// offset back, so no update is handled twice.
func TestTelegramOffsetNeverMovesBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := db.Writer()
		if off, err := q.TelegramOffset(ctx, 1); err != nil || off != 0 {
			t.Fatalf("no offset: %d %v", off, err)
		}
		for _, n := range []int64{10, 5, 12} {
			if err := q.SetTelegramOffset(ctx, 1, n); err != nil {
				t.Fatal(err)
			}
		}
		if off, _ := q.TelegramOffset(ctx, 1); off != 12 {
			t.Fatalf("offset %d, want 12", off)
		}
		if off, _ := q.TelegramOffset(ctx, 2); off != 0 {
			t.Fatalf("another bot's offset %d", off)
		}
	})
}
