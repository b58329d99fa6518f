package auth_test

import (
	"context"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestRevokeSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newEnv(t, db, auth.Config{})
		ana := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		bob := newUser(t, db, svc, "bob@example.com", "tangerine-violin", core.StateActive)
		login := func(email string) *auth.LoginResult {
			t.Helper()
			res, err := svc.login(ctx, auth.LoginInput{Email: email, Password: "tangerine-violin", IP: "1.2.3.4"})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		a1, a2, a3, b1 := login("ana@example.com"), login("ana@example.com"), login("ana@example.com"), login("bob@example.com")

		// Someone else's session is not found and stays.
		if err := svc.RevokeSession(ctx, ana, b1.Session.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("revoke another user's session: %v", err)
		}
		if _, err := svc.Authenticate(ctx, b1.Token, ""); err != nil {
			t.Fatalf("bob signed out by ana: %v", err)
		}
		if err := svc.RevokeSession(ctx, ana, a2.Session.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, a2.Token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("revoked session still works: %v", err)
		}
		if err := svc.RevokeSession(ctx, ana, a2.Session.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("revoke twice: %v", err)
		}

		if err := svc.RevokeOtherSessions(ctx, ana, a1.Session.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, a3.Token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("other session still works: %v", err)
		}
		if _, err := svc.Authenticate(ctx, a1.Token, ""); err != nil {
			t.Fatalf("kept session ended: %v", err)
		}
		if _, err := svc.Authenticate(ctx, b1.Token, ""); err != nil {
			t.Fatalf("bob signed out by ana's revoke-others: %v", err)
		}
		if list, _ := svc.Sessions(ctx, bob); len(list) != 1 {
			t.Fatalf("bob has %d sessions", len(list))
		}
	})
}

func TestSessionsListOnlyLiveOnes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		svc := newEnv(t, db, auth.Config{IdleTimeout: time.Hour})
		u := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin"}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Hour)
		if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin"}); err != nil {
			t.Fatal(err)
		}
		list, err := svc.Sessions(ctx, u)
		if err != nil || len(list) != 1 {
			t.Fatalf("listed %d sessions, want only the live one (%v)", len(list), err)
		}
	})
}
