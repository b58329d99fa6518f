package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/testenv"
)

// TestRevocationReachesEveryInstance: two instances on one PostgreSQL
// database, each caching who a credential signs in as. A session and an
// API token used on both (so both have them cached) are refused on both
// as soon as they are revoked on one; a deactivated person is refused on
// both; a role change and a pending email change show on both. "At once"
// is the time a NOTIFY takes to arrive: the test allows a second, and the
// caches would keep them for 30 seconds (a minute for the email change)
// without it.
func TestRevocationReachesEveryInstance(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DatabaseURL: testenv.FreshPostgres(t), SecretKey: base64.StdEncoding.EncodeToString(key), APIRate: 1000, APIBurst: 1000}
	a, b := start(t, "", cfg), start(t, "", cfg)
	setup, err := a.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin", Timezone: "UTC", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	bea, err := a.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bea", Email: "bea@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	token, tok, err := a.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	login := func(email string) string {
		status, body := apiCall(t, a, "POST", "/auth/login", "", fmt.Sprintf(`{"email":%q,"password":"tangerine-violin"}`, email))
		var l struct{ Token string }
		if status != http.StatusOK || json.Unmarshal(body, &l) != nil {
			t.Fatalf("login: %d %s", status, body)
		}
		return l.Token
	}
	beaSession := login("bea@example.com")
	me := func(r *running, cred string) (int, string) {
		status, body := apiCall(t, r, "GET", "/me", cred, "")
		var u struct{ Role string }
		_ = json.Unmarshal(body, &u)
		return status, u.Role
	}
	// Both instances serve and cache both credentials (twice: the second
	// answer comes from the cache).
	for _, r := range []*running{a, b} {
		for range 2 {
			if s, _ := me(r, token); s != http.StatusOK {
				t.Fatalf("token: %d", s)
			}
			if s, role := me(r, beaSession); s != http.StatusOK || role != "user" {
				t.Fatalf("session: %d %s", s, role)
			}
		}
	}
	refusedOnBoth := func(what, cred string) {
		t.Helper()
		for name, r := range map[string]*running{"A": a, "B": b} {
			deadline := time.Now().Add(time.Second)
			for {
				s, _ := me(r, cred)
				if s == http.StatusUnauthorized {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: still %d on %s a second later", what, s, name)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}

	// A pending email change requested on A shows on B, which had cached
	// that Bea had none, and so does its cancellation.
	pendingOnB := func(want string) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			_, body := apiCall(t, b, "GET", "/me", beaSession, "")
			var u struct {
				PendingEmail *string `json:"pending_email"`
			}
			_ = json.Unmarshal(body, &u)
			got := ""
			if u.PendingEmail != nil {
				got = *u.PendingEmail
			}
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("B shows pending email %q a second later, want %q", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	pendingOnB("")
	if _, err := a.Profiles.RequestEmailChange(ctx, setup.User, bea.ID, "bea.new@example.com", ""); err != nil {
		t.Fatal(err)
	}
	pendingOnB("bea.new@example.com")
	if _, err := a.Profiles.CancelEmailChange(ctx, setup.User, bea.ID, ""); err != nil {
		t.Fatal(err)
	}
	pendingOnB("")

	// A role change made on A shows on B.
	if _, err := a.Accounts.SetAccess(ctx, setup.User, bea.ID, account.AccessInput{Role: core.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if _, role := me(b, beaSession); role == "admin" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B still shows Bea's old role a second later")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The token, revoked on A.
	if err := a.Auth.RevokeAPIToken(ctx, setup.User, tok.ID); err != nil {
		t.Fatal(err)
	}
	refusedOnBoth("a revoked token", token)

	// Bea's session, signed out everywhere from another session of hers on B.
	other := login("bea@example.com")
	status, _ := apiCall(t, b, "DELETE", "/me/sessions", other, "")
	if status != http.StatusNoContent {
		t.Fatalf("revoke other sessions: %d", status)
	}
	refusedOnBoth("a revoked session", beaSession)

	// Deactivated on A: her remaining session is refused on both.
	if s, _ := me(b, other); s != http.StatusOK {
		t.Fatalf("the kept session: %d", s)
	}
	if _, err := a.Accounts.SetState(ctx, setup.User, bea.ID, core.StateInactive); err != nil {
		t.Fatal(err)
	}
	refusedOnBoth("a deactivated person", other)
}
