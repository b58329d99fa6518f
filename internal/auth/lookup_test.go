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
		// The first lookup is held after its read, at its write of the
		// token's last use.
		read, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		db.SetQueryHook(func(q string) {
			if strings.Contains(q, "SET last_used_at") {
				once.Do(func() { close(read); <-release })
			}
		})
		defer db.SetQueryHook(nil)
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

// TestLastUseWrittenOnceUnderConcurrency: when a token's or a session's
// last use falls due, the requests that carry it at that moment write it
// once between them; the others are answered meanwhile.
func TestLastUseWrittenOnceUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Now()
		db.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
		storetest.Listen(t, db)
		svc := newEnv(t, db, auth.Config{})
		admin := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		secret, _, err := svc.CreateAPIToken(ctx, admin, "CRM sync", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.login(ctx, auth.LoginInput{Email: admin.Email, Password: "tangerine-violin", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, token, write string }{
			{"token", secret, "UPDATE api_tokens SET last_used_at"},
			{"session", res.Token, "UPDATE sessions SET last_seen_at"},
		} {
			// Cached with a use 45 s old (a cached entry lives 30 s, a
			// use is written once a minute): 20 s later the write falls
			// due while the entry is still cached.
			for _, step := range []time.Duration{45 * time.Second, 20 * time.Second} {
				if _, err := svc.Authenticate(ctx, c.token, "192.0.2.1"); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				now = now.Add(step)
				mu.Unlock()
			}
			// Every write is held until each request has either been
			// answered or come to write (at most 2 s): none can then see
			// another's write before deciding to write itself.
			var writes, answered atomic.Int32
			db.SetQueryHook(func(q string) {
				if !strings.Contains(q, c.write) {
					return
				}
				writes.Add(1)
				for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					if writes.Load()+answered.Load() >= concurrentRequests {
						return
					}
				}
			})
			var wg sync.WaitGroup
			for range concurrentRequests {
				wg.Go(func() {
					if _, err := svc.Authenticate(ctx, c.token, "192.0.2.1"); err != nil {
						t.Error(err)
					}
					answered.Add(1)
				})
			}
			wg.Wait()
			db.SetQueryHook(nil)
			if n := writes.Load(); n != 1 {
				t.Errorf("%s: %d concurrent requests wrote its last use %d times, want 1", c.name, concurrentRequests, n)
			}
			// Written: the next request within the minute writes nothing.
			stop := storetest.Queries(db)
			if _, err := svc.Authenticate(ctx, c.token, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			for _, q := range stop() {
				if strings.Contains(q, c.write) {
					t.Errorf("%s: a request after the write wrote again", c.name)
				}
			}
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
