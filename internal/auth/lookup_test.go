package auth_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

const concurrentRequests = 32

// withToken is a sign-in service on db with an admin and an API token of
// theirs, its caches live (on PostgreSQL, its listener connected).
func withToken(t *testing.T, db *store.DB) (*env, *core.User, string, *core.APIToken) {
	t.Helper()
	storetest.Listen(t, db)
	svc := newEnv(t, db, auth.Config{})
	admin := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
	secret, tok, err := svc.CreateAPIToken(context.Background(), admin, "CRM sync", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return svc, admin, secret, tok
}

// TestConcurrentMissesShareOneLookup: the requests that carry a token the
// cache does not hold, all at once, read it once between them, and each
// gets a principal of its own.
func TestConcurrentMissesShareOneLookup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, admin, secret, _ := withToken(t, db)
		var lookups atomic.Int32
		release := make(chan struct{})
		auth.OnLookupForTest(svc.Service, func() {
			lookups.Add(1)
			<-release
		})
		var started, done sync.WaitGroup
		got := make([]*auth.Principal, concurrentRequests)
		errs := make([]error, concurrentRequests)
		for i := range concurrentRequests {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				started.Done()
				got[i], errs[i] = svc.Authenticate(ctx, secret, "")
			}()
		}
		started.Wait()
		// Time for the requests to reach the lookup; one arriving after it
		// ended finds the cache filled, so this sets only how hard the
		// test presses, not whether it passes.
		time.Sleep(200 * time.Millisecond)
		close(release)
		done.Wait()
		if n := lookups.Load(); n != 1 {
			t.Errorf("%d concurrent requests made %d lookups, want 1", concurrentRequests, n)
		}
		users := map[*core.User]bool{}
		for i := range got {
			if errs[i] != nil || got[i] == nil || got[i].User.ID != admin.ID {
				t.Fatalf("request %d: %v %+v", i, errs[i], got[i])
			}
			users[got[i].User] = true
		}
		if len(users) != concurrentRequests {
			t.Errorf("%d requests shared %d users: each must get its own copy", concurrentRequests, len(users))
		}
	})
}

// TestRequestAfterRevocationSharesNoEarlierLookup: a lookup that read a
// token before it was revoked answers only the requests that came before
// the revocation; one that comes after reads again and is refused.
func TestRequestAfterRevocationSharesNoEarlierLookup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, admin, secret, tok := withToken(t, db)
		// The first lookup is held after its read.
		read, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		auth.OnReadForTest(svc.Service, func() { once.Do(func() { close(read); <-release }) })
		first := make(chan error, 1)
		go func() {
			_, err := svc.Authenticate(ctx, secret, "")
			first <- err
		}()
		<-read
		if err := svc.RevokeAPIToken(ctx, admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		after := make(chan error, 1)
		go func() {
			_, err := svc.Authenticate(ctx, secret, "")
			after <- err
		}()
		select {
		case err := <-after:
			if core.ErrorCode(err) != core.EUNAUTHORIZED {
				t.Errorf("a request after the revocation: %v, want unauthorized", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("a request after the revocation waited for the lookup that began before it")
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatalf("the request before the revocation: %v", err)
		}
		if _, err := svc.Authenticate(ctx, secret, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("after both: %v, want unauthorized", err)
		}
	})
}

// TestUsesWrittenInBatches: when a token's and a session's last uses fall
// due, the requests that carry them at that moment write nothing
// themselves (SQLite has one writer: a fresh server's first requests all
// queued for it); each use is written once, together, in the next batch.
func TestUsesWrittenInBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock, advance := stoppedClock(db)
		storetest.Listen(t, db)
		// Written only when the test says (an hour is never reached).
		svc := newEnv(t, db, auth.Config{UseWriteDelay: time.Hour})
		admin := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		secret, _, err := svc.CreateAPIToken(ctx, admin, "CRM sync", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.login(ctx, auth.LoginInput{Email: admin.Email, Password: "tangerine-violin", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		writes := []string{"UPDATE api_tokens SET last_used_at", "UPDATE sessions SET last_seen_at"}
		count := func(queries []string) map[string]int {
			n := map[string]int{}
			for _, q := range queries {
				for _, w := range writes {
					if strings.Contains(q, w) {
						n[w]++
					}
				}
			}
			return n
		}
		// Cached with a use 45 s old (a cached entry lives 30 s, a use is
		// recorded once a minute): 20 s later the use falls due while the
		// entry is still cached. Then once more with nothing cached.
		for _, cached := range []bool{true, false} {
			for _, step := range []time.Duration{45 * time.Second, 20 * time.Second} {
				if cached || step == 20*time.Second {
					for _, token := range []string{secret, res.Token} {
						if _, err := svc.Authenticate(ctx, token, "192.0.2.7"); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := auth.FlushUsesForTest(svc.Service); err != nil {
					t.Fatal(err)
				}
				advance(step)
			}
			if !cached {
				advance(time.Minute) // every entry aged out, the uses due
			}
			stop := storetest.Queries(db)
			var wg sync.WaitGroup
			for range concurrentRequests {
				for _, token := range []string{secret, res.Token} {
					wg.Go(func() {
						if _, err := svc.Authenticate(ctx, token, "192.0.2.9"); err != nil {
							t.Error(err)
						}
					})
				}
			}
			wg.Wait()
			if n := count(stop()); len(n) != 0 {
				t.Errorf("cached %v: requests wrote their uses themselves: %v", cached, n)
			}
			stop = storetest.Queries(db)
			if err := auth.FlushUsesForTest(svc.Service); err != nil {
				t.Fatal(err)
			}
			batch := count(stop())
			for _, w := range writes {
				if batch[w] != 1 {
					t.Errorf("cached %v: %d concurrent requests each: %q %d times in the batch, want 1", cached, concurrentRequests, w, batch[w])
				}
			}
			tokens, err := svc.APITokens(ctx, admin)
			if err != nil || len(tokens) != 1 || !tokens[0].LastUsedAt.Equal(clock()) {
				t.Fatalf("cached %v: tokens %+v %v, want used at %v", cached, tokens, err, clock())
			}
			sessions, err := db.Reader().UserSessions(ctx, admin.ID)
			if err != nil || len(sessions) != 1 || !sessions[0].LastSeenAt.Equal(clock()) || sessions[0].IP != "192.0.2.9" {
				t.Fatalf("cached %v: sessions %+v %v, want seen at %v from 192.0.2.9", cached, sessions, err, clock())
			}
			// Recorded: the next requests within the minute record nothing.
			for _, token := range []string{secret, res.Token} {
				if _, err := svc.Authenticate(ctx, token, "192.0.2.9"); err != nil {
					t.Fatal(err)
				}
			}
			stop = storetest.Queries(db)
			if err := auth.FlushUsesForTest(svc.Service); err != nil {
				t.Fatal(err)
			}
			if n := count(stop()); len(n) != 0 {
				t.Errorf("cached %v: a request after the write recorded again: %v", cached, n)
			}
		}
	})
}

// TestUsesWrittenWithinTheDelay: a use is written by itself within the
// delay, without a request or a flush; Close writes what waits at once,
// and a use after Close is written as it is recorded.
func TestUsesWrittenWithinTheDelay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock, advance := stoppedClock(db)
		storetest.Listen(t, db)
		for _, c := range []struct {
			name  string
			delay time.Duration
		}{{"timer", 50 * time.Millisecond}, {"close", time.Hour}} {
			svc := newEnv(t, db, auth.Config{UseWriteDelay: c.delay})
			admin := newUser(t, db, svc, c.name+"@example.com", "tangerine-violin", core.StateActive)
			secret, tok, err := svc.CreateAPIToken(ctx, admin, "CRM sync", 30*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			used := func() time.Time {
				got, err := db.Reader().APITokenByHash(ctx, tok.TokenHash)
				if err != nil {
					t.Fatal(err)
				}
				return got.LastUsedAt
			}
			if _, err := svc.Authenticate(ctx, secret, ""); err != nil {
				t.Fatal(err)
			}
			if c.delay == time.Hour {
				if !used().IsZero() {
					t.Fatalf("%s: written before the delay", c.name)
				}
				if err := svc.Close(ctx); err != nil {
					t.Fatal(err)
				}
				if !used().Equal(clock()) {
					t.Fatalf("%s: after Close the use is %v, want %v", c.name, used(), clock())
				}
				// Closed: a later use is written as it is recorded.
				advance(2 * time.Minute)
				if _, err := svc.Authenticate(ctx, secret, ""); err != nil {
					t.Fatal(err)
				}
				if !used().Equal(clock()) {
					t.Fatalf("%s: a use after Close is %v, want %v", c.name, used(), clock())
				}
				continue
			}
			deadline := time.Now().Add(10 * time.Second)
			for !used().Equal(clock()) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the use was not written within 10 s (delay %v)", c.name, c.delay)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}

// TestUseWaitingKeepsSessionAlive: a session whose last use waits to be
// written is not idle, and lists show that use.
func TestUseWaitingKeepsSessionAlive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _, res, clock, advance := idleSessionEnv(t, db)
		advance(90 * time.Minute)
		if _, err := svc.Authenticate(ctx, res.Token, "192.0.2.2"); err != nil {
			t.Fatal(err)
		}
		// 150 minutes after sign-in, 60 after the use that waits: the
		// database alone would call it idle (and delete it).
		advance(60 * time.Minute)
		p, err := svc.Authenticate(ctx, res.Token, "192.0.2.3")
		if err != nil {
			t.Fatalf("a session used an hour ago is refused: %v", err)
		}
		list, err := svc.Sessions(ctx, p.User)
		if err != nil || len(list) != 1 || !list[0].LastSeenAt.Equal(clock()) || list[0].IP != "192.0.2.3" {
			t.Fatalf("sessions %+v %v, want one seen now from 192.0.2.3", list, err)
		}
	})
}

// TestTokenListShowsWaitingUse: the workspace's list of API tokens shows a
// use that waits to be written.
func TestTokenListShowsWaitingUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, admin, _, clock, advance := idleSessionEnv(t, db)
		secret, _, err := svc.CreateAPIToken(ctx, admin, "CRM sync", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		advance(time.Hour)
		if _, err := svc.Authenticate(ctx, secret, ""); err != nil {
			t.Fatal(err)
		}
		tokens, err := svc.APITokens(ctx, admin)
		if err != nil || len(tokens) != 1 || !tokens[0].LastUsedAt.Equal(clock()) {
			t.Fatalf("tokens %+v %v, want one used at %v", tokens, err, clock())
		}
	})
}

// TestSharedLookupOutlivesItsRequest: when the request running a shared
// lookup ends (its client gone), the others that shared it are still
// answered.
func TestSharedLookupOutlivesItsRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, _, secret, _ := withToken(t, db)
		started, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		auth.OnLookupForTest(svc.Service, func() { once.Do(func() { close(started); <-release }) })
		gone, cancel := context.WithCancel(context.Background())
		first := make(chan error, 1)
		go func() {
			_, err := svc.Authenticate(gone, secret, "")
			first <- err
		}()
		<-started
		second := make(chan error, 1)
		go func() {
			_, err := svc.Authenticate(context.Background(), secret, "")
			second <- err
		}()
		time.Sleep(200 * time.Millisecond) // time for the second to join the first's lookup
		cancel()
		close(release)
		if err := <-first; err == nil {
			t.Error("the request whose context ended was answered")
		}
		if err := <-second; err != nil {
			t.Errorf("the request sharing the lookup: %v", err)
		}
	})
}

// TestNoSharedLookupWhileChangesUnheard: on PostgreSQL with the change
// listener down, another instance's revocation would not move the
// cache's generation, so requests read for themselves, none sharing a
// read begun before it. (SQLite always hears its changes.)
func TestNoSharedLookupWhileChangesUnheard(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	svc := newEnv(t, db, auth.Config{})
	admin := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
	secret, _, err := svc.CreateAPIToken(ctx, admin, "CRM sync", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if db.CachesLive() {
		t.Fatal("caches live without a listener")
	}
	var reads atomic.Int32
	db.SetQueryHook(func(q string) {
		if strings.Contains(q, "FROM api_tokens t JOIN users u") {
			// Each read waits for the others (at most 2 s): shared,
			// they would never come.
			reads.Add(1)
			for deadline := time.Now().Add(2 * time.Second); reads.Load() < concurrentRequests && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
	})
	defer db.SetQueryHook(nil)
	var wg sync.WaitGroup
	for range concurrentRequests {
		wg.Go(func() {
			if _, err := svc.Authenticate(ctx, secret, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := reads.Load(); n != concurrentRequests {
		t.Errorf("%d requests with the listener down read the token %d times, want each its own", concurrentRequests, n)
	}
}

// TestFailedUseWriteKept: a batch whose write fails keeps its records for
// the next write (the cache counts them as written, so no request records
// them again within the minute), and a Flush waiting for another write
// gives up when its context ends.
func TestFailedUseWriteKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.Listen(t, db)
		svc := newEnv(t, db, auth.Config{UseWriteDelay: time.Hour})
		admin := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		secret, tok, err := svc.CreateAPIToken(ctx, admin, "CRM sync", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, secret, ""); err != nil {
			t.Fatal(err)
		}
		// The write fails: its context ends as the statement is sent.
		failing, cancel := context.WithCancel(ctx)
		db.SetQueryHook(func(q string) {
			if strings.Contains(q, "UPDATE api_tokens SET last_used_at") {
				cancel()
			}
		})
		err = auth.FlushUsesContextForTest(failing, svc.Service)
		db.SetQueryHook(nil)
		if err == nil {
			t.Fatal("the write whose context ended succeeded")
		}
		if got, err := db.Reader().APITokenByHash(ctx, tok.TokenHash); err != nil || !got.LastUsedAt.IsZero() {
			t.Fatalf("after the failed write: %+v %v, want never used", got, err)
		}
		if err := auth.FlushUsesForTest(svc.Service); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Reader().APITokenByHash(ctx, tok.TokenHash); err != nil || got.LastUsedAt.IsZero() {
			t.Fatalf("the failed write's record was lost: %+v %v", got, err)
		}
		// Another write in progress: a Flush under a context that ends
		// returns then.
		release := auth.HoldUseWriteForTest(svc.Service)
		short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
		defer stop()
		if err := auth.FlushUsesContextForTest(short, svc.Service); err == nil {
			t.Error("a Flush waiting for another write outlived its context")
		}
		release()
	})
}

// TestSessionUsedElsewhereBeforeDeleteKept: a session read as idle, whose
// use another instance writes before the delete, is kept and accepted.
func TestSessionUsedElsewhereBeforeDeleteKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, admin, res, clock, advance := idleSessionEnv(t, db)
		advance(150 * time.Minute)
		var once sync.Once
		db.SetQueryHook(func(q string) {
			if strings.Contains(q, "DELETE FROM sessions WHERE id") {
				once.Do(func() {
					// Another instance's batch, between the read and the delete.
					if err := db.Writer().RecordUses(ctx, []store.Use{{ID: res.Session.ID, At: clock().Add(-time.Minute), IP: "192.0.2.8"}}, nil); err != nil {
						t.Error(err)
					}
				})
			}
		})
		defer db.SetQueryHook(nil)
		if _, err := svc.Authenticate(ctx, res.Token, "192.0.2.9"); err != nil {
			t.Fatalf("a session used a minute ago on another instance was refused: %v", err)
		}
		list, err := svc.Sessions(ctx, admin)
		if err != nil || len(list) != 1 {
			t.Fatalf("sessions %+v %v, want the one kept", list, err)
		}
	})
}

// idleSessionEnv is a service whose sessions end after two idle hours and
// whose uses wait an hour to be written (unless flushed), with its admin
// signed in from 192.0.2.1 on a clock that moves only by advance.
func idleSessionEnv(t *testing.T, db *store.DB) (svc *env, admin *core.User, res *auth.LoginResult, clock func() time.Time, advance func(time.Duration)) {
	t.Helper()
	clock, advance = stoppedClock(db)
	storetest.Listen(t, db)
	svc = newEnv(t, db, auth.Config{IdleTimeout: 2 * time.Hour, UseWriteDelay: time.Hour})
	admin = newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
	res, err := svc.login(context.Background(), auth.LoginInput{Email: admin.Email, Password: "tangerine-violin", IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, admin, res, clock, advance
}

// stoppedClock sets db's clock to a moment that moves only by advance.
func stoppedClock(db *store.DB) (clock func() time.Time, advance func(time.Duration)) {
	var mu sync.Mutex
	now := time.Now().Truncate(time.Millisecond)
	clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance = func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	db.SetClock(clock)
	return clock, advance
}
