package auth_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// burst runs n calls of fn at once and waits for them.
func burst(n int, fn func(i int)) *sync.WaitGroup {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	return &wg
}

// TestLoginThrottleHoldsUnderConcurrency: 100 parallel wrong passwords for
// one account reach the password check at most 10 times (the default
// limit), and the right password sent while they run is refused. The same
// for one IP and many accounts, and for VerifyPassword, whose own
// re-authentication throttle leaves sign-in open.
func TestLoginThrottleHoldsUnderConcurrency(t *testing.T) {
	const n = 100
	t.Run("account", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			ctx := context.Background()
			svc := newEnv(t, db, auth.Config{})
			newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
			var checked atomic.Int32
			auth.OnVerifyForTest(svc.Hasher, func() { checked.Add(1) })
			limit := int32(svc.Config().AccountFailures)
			wg := burst(n, func(i int) {
				_, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: fmt.Sprintf("wrong-%d", i), IP: fmt.Sprintf("10.0.%d.%d", i/200, i%200)})
				if c := core.ErrorCode(err); c != core.EUNAUTHORIZED && c != core.ETOOMANY {
					t.Errorf("guess %d: %v", i, err)
				}
			})
			// Once the limit's worth of guesses is being checked, the right
			// password is refused, also while those checks still run.
			waitFor(t, "the first guesses to reach the check", func() bool { return checked.Load() >= limit })
			_, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "10.9.9.9"})
			if core.ErrorCode(err) != core.ETOOMANY {
				t.Errorf("right password during the burst: %v, want ETOOMANY", err)
			}
			wg.Wait()
			if got := checked.Load(); got > limit {
				t.Fatalf("%d of %d parallel guesses reached the password check; limit %d", got, n, limit)
			}
			if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "10.9.9.9"}); core.ErrorCode(err) != core.ETOOMANY {
				t.Fatalf("right password after the burst: %v, want ETOOMANY", err)
			}
		})
	})
	t.Run("ip", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			ctx := context.Background()
			// A lower IP limit than the default 50 keeps the hashing short.
			svc := newEnv(t, db, auth.Config{IPFailures: 20})
			newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
			var checked atomic.Int32
			auth.OnVerifyForTest(svc.Hasher, func() { checked.Add(1) })
			wg := burst(n, func(i int) {
				_, err := svc.login(ctx, auth.LoginInput{Email: fmt.Sprintf("guess%d@example.com", i), Password: "tangerine-violin", IP: "7.7.7.7"})
				if c := core.ErrorCode(err); c != core.EUNAUTHORIZED && c != core.ETOOMANY {
					t.Errorf("guess %d: %v", i, err)
				}
			})
			waitFor(t, "the first guesses to reach the check", func() bool { return checked.Load() >= 20 })
			if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "7.7.7.7"}); core.ErrorCode(err) != core.ETOOMANY {
				t.Errorf("right password from the IP during the burst: %v, want ETOOMANY", err)
			}
			wg.Wait()
			if got := checked.Load(); got > 20 {
				t.Fatalf("%d of %d parallel guesses from one IP reached the password check; limit 20", got, n)
			}
			if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "8.8.8.8"}); err != nil {
				t.Fatalf("the account from another IP: %v", err)
			}
		})
	})
	t.Run("verify password", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			ctx := context.Background()
			svc := newEnv(t, db, auth.Config{})
			u := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
			var checked atomic.Int32
			auth.OnVerifyForTest(svc.Hasher, func() { checked.Add(1) })
			burst(n, func(i int) {
				err := svc.VerifyPassword(ctx, u, fmt.Sprintf("wrong-%d", i), "1.2.3.4", "password")
				if c := core.ErrorCode(err); c != core.EINVALID && c != core.ETOOMANY {
					t.Errorf("guess %d: %v", i, err)
				}
			}).Wait()
			if got := checked.Load(); got > 10 {
				t.Fatalf("%d of %d parallel guesses reached the password check; limit 10", got, n)
			}
			if err := svc.VerifyPassword(ctx, u, "tangerine-violin", "1.2.3.4", "password"); core.ErrorCode(err) != core.ETOOMANY {
				t.Fatalf("right password after the burst: %v, want ETOOMANY", err)
			}
			// The checks were counted against re-authentication only.
			if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "1.2.3.4"}); err != nil {
				t.Fatalf("sign-in after the burst of password checks: %v", err)
			}
		})
	})
}

// TestSuccessGivesTheAttemptBack: right passwords do not use up the
// throttles, so many people behind one IP can keep signing in; a wrong one
// afterwards is still just a wrong password.
func TestSuccessGivesTheAttemptBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newEnv(t, db, auth.Config{AccountFailures: 2, IPFailures: 2})
		u := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		for i := range 4 {
			if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "1.2.3.4"}); err != nil {
				t.Fatalf("sign-in %d: %v", i, err)
			}
			if err := svc.VerifyPassword(ctx, u, "tangerine-violin", "1.2.3.4", "password"); err != nil {
				t.Fatalf("password check %d: %v", i, err)
			}
		}
		if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "wrong-password", IP: "1.2.3.4"}); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("wrong password after successes: %v, want EUNAUTHORIZED", err)
		}
	})
}

// TestDocumentedDefaults: the defaults of an empty Config are the
// documented ones, compared with literal values, and the throttle behaves
// as documented: 10 failures per account and 50 per IP in 15 minutes, and
// 10 re-authentication checks per user in 15 minutes.
func TestDocumentedDefaults(t *testing.T) {
	cfg := auth.NewService(nil, auth.Config{}, nil).Config()
	day := 24 * time.Hour
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"IdleTimeout", cfg.IdleTimeout, 90 * day},
		{"TwoFactorIdle", cfg.TwoFactorIdle, 30 * day},
		{"AbsoluteTimeout", cfg.AbsoluteTimeout, 365 * day},
		{"ThrottleWindow", cfg.ThrottleWindow, 15 * time.Minute},
		{"AccountFailures", cfg.AccountFailures, 10},
		{"IPFailures", cfg.IPFailures, 50},
		{"ReauthFailures", cfg.ReauthFailures, 10},
	} {
		if c.got != c.want {
			t.Errorf("%s defaults to %v, documented %v", c.name, c.got, c.want)
		}
	}

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Millisecond) // as stored
		db.SetClock(func() time.Time { return now })
		svc := newEnv(t, db, auth.Config{})
		// Reserved attempts that are not released count as failures.
		for i := range 10 {
			if _, err := svc.Reserve(ctx, "ana@example.com", fmt.Sprintf("10.0.0.%d", i)); err != nil {
				t.Fatalf("failure %d of 10: %v", i+1, err)
			}
		}
		_, err := svc.Reserve(ctx, "ana@example.com", "10.0.1.1")
		if e := core.AsError(err); e == nil || e.Code != core.ETOOMANY || e.RetryAfter != 15*time.Minute {
			t.Fatalf("11th attempt on the account: %v, want ETOOMANY for 15 minutes", err)
		}
		now = now.Add(15*time.Minute - time.Millisecond)
		if _, err := svc.Reserve(ctx, "ana@example.com", "10.0.1.1"); core.ErrorCode(err) != core.ETOOMANY {
			t.Fatalf("just before 15 minutes: %v, want ETOOMANY", err)
		}
		now = now.Add(time.Millisecond)
		if _, err := svc.Reserve(ctx, "ana@example.com", "10.0.1.1"); err != nil {
			t.Fatalf("after 15 minutes: %v", err)
		}

		for i := range 50 {
			if _, err := svc.Reserve(ctx, fmt.Sprintf("u%d@example.com", i), "7.7.7.7"); err != nil {
				t.Fatalf("failure %d of 50 from the IP: %v", i+1, err)
			}
		}
		if _, err := svc.Reserve(ctx, "bo@example.com", "7.7.7.7"); core.ErrorCode(err) != core.ETOOMANY {
			t.Fatalf("51st attempt from the IP: %v, want ETOOMANY", err)
		}

		u := newUser(t, db, svc, "cy@example.com", "tangerine-violin", core.StateActive)
		for i := range 10 {
			if _, err := svc.ReserveReauth(ctx, u); err != nil {
				t.Fatalf("check %d of 10: %v", i+1, err)
			}
		}
		_, err = svc.ReserveReauth(ctx, u)
		if e := core.AsError(err); e == nil || e.Code != core.ETOOMANY || e.RetryAfter != 15*time.Minute {
			t.Fatalf("11th check: %v, want ETOOMANY for 15 minutes", err)
		}
		if _, err := svc.Reserve(ctx, "cy@example.com", "10.0.2.2"); err != nil {
			t.Fatalf("sign-in attempt after the checks: %v", err)
		}
		now = now.Add(15 * time.Minute)
		if _, err := svc.ReserveReauth(ctx, u); err != nil {
			t.Fatalf("check after 15 minutes: %v", err)
		}
	})
}
