package security_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/security"
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

// burst runs n calls of fn at once; Wait waits for them.
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

// enableTOTPAt turns the authenticator app on for p with codes computed
// in-process (no oathtool needed) and returns its key and backup codes.
func (f *fx) enableTOTPAt(t *testing.T, p *auth.Principal) (string, []string) {
	t.Helper()
	ctx := context.Background()
	st, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.sec.ConfirmTOTP(ctx, p, security.CodeAt(st.Secret, f.now), "")
	if err != nil {
		t.Fatal(err)
	}
	return st.Secret, codes
}

// TestSecondStepThrottleHoldsUnderConcurrency: 100 parallel wrong codes of
// each kind for one sign-in reach the code check at most 10 times (the
// default account limit), and a right code sent while they run, or after,
// is refused.
func TestSecondStepThrottleHoldsUnderConcurrency(t *testing.T) {
	const n = 100
	for _, method := range []string{"totp", "email", "backup_code"} {
		t.Run(method, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				f := setupWith(t, db, auth.Config{})
				limit := int32(f.auth.Config().AccountFailures)
				p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
				var secret string
				var backup []string
				if method == "email" {
					f.enableEmail(t, p)
				} else {
					secret, backup = f.enableTOTPAt(t, p)
					f.now = f.now.Add(30 * time.Second) // the enabling code is spent
				}
				// The burst goes to one sign-in; the right code to another.
				// Both passwords are right, so their throttle attempts are
				// given back: the account starts the burst with none used.
				target := f.challenge(t, auth.LoginInput{Email: "bo@example.com"})
				other := f.challenge(t, auth.LoginInput{Email: "bo@example.com"})
				var right, wrong string
				switch method {
				case "totp":
					right, wrong = security.CodeAt(secret, f.now), "000000"
					if right == wrong {
						wrong = "111111"
					}
				case "email":
					right, wrong = f.mail.last("two_factor_code").Data["Code"].(string), "000000"
					if right == wrong {
						wrong = "111111"
					}
				case "backup_code":
					right, wrong = backup[0], "aaaaa-aaaaa"
				}

				var checked atomic.Int32
				security.SetCheckHookForTest(f.sec, func() { checked.Add(1) })
				wg := burst(n, func(i int) {
					_, err := f.sec.VerifyLogin(ctx, target.Token, wrong, fmt.Sprintf("10.0.%d.%d", i/200, i%200))
					switch core.ErrorCode(err) {
					case core.EINVALID, core.ETOOMANY, core.ENOTFOUND: // wrong, throttled, sign-in over
					default:
						t.Errorf("guess %d: %v", i, err)
					}
				})
				waitFor(t, "the first guesses to reach the check", func() bool { return checked.Load() >= limit })
				if _, err := f.sec.VerifyLogin(ctx, other.Token, right, "10.9.9.9"); core.ErrorCode(err) != core.ETOOMANY {
					t.Errorf("right code during the burst: %v, want ETOOMANY", err)
				}
				wg.Wait()
				if got := checked.Load(); got > limit {
					t.Fatalf("%d of %d parallel %s guesses reached the code check; limit %d", got, n, method, limit)
				}
				if _, err := f.sec.VerifyLogin(ctx, other.Token, right, "10.9.9.9"); core.ErrorCode(err) != core.ETOOMANY {
					t.Fatalf("right code after the burst: %v, want ETOOMANY", err)
				}
			})
		})
	}
}

// TestEmailedCodeTriesHoldUnderConcurrency: one emailed code is compared at
// most EmailCodeTries (5) times even when 100 wrong tries arrive at once
// (with the sign-in throttles set high enough not to decide), and then the
// right code no longer works; two racing uses of the right code of a fresh
// sign-in open one session.
func TestEmailedCodeTriesHoldUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setupWith(t, db, auth.Config{AccountFailures: 1000, IPFailures: 1000})
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		f.enableEmail(t, p)
		ch := f.challenge(t, auth.LoginInput{Email: "bo@example.com"})
		right, wrong := f.mail.last("two_factor_code").Data["Code"].(string), "000000"
		if right == wrong {
			wrong = "111111"
		}
		var compared atomic.Int32
		security.SetEmailCompareHookForTest(f.sec, func() { compared.Add(1) })
		burst(100, func(i int) {
			_, err := f.sec.VerifyLogin(ctx, ch.Token, wrong, "")
			if c := core.ErrorCode(err); c != core.EINVALID && c != core.ENOTFOUND {
				t.Errorf("guess %d: %v", i, err)
			}
		}).Wait()
		if got := compared.Load(); got > security.EmailCodeTries {
			t.Fatalf("one emailed code was compared %d times; at most %d", got, security.EmailCodeTries)
		}
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, right, ""); err == nil {
			t.Fatal("the right code worked after 100 wrong tries")
		}

		// Two racing uses of one right code: one sign-in.
		ch2 := f.challenge(t, auth.LoginInput{Email: "bo@example.com"})
		code := f.mail.last("two_factor_code").Data["Code"].(string)
		var passed atomic.Int32
		burst(4, func(i int) {
			if _, err := f.sec.VerifyLogin(ctx, ch2.Token, code, ""); err == nil {
				passed.Add(1)
			}
		}).Wait()
		if got := passed.Load(); got != 1 {
			t.Fatalf("%d racing uses of one emailed code signed in, want 1", got)
		}

		// Two racing uses of one code mailed to confirm a change: one change.
		if err := f.sec.SendManageCode(ctx, p); err != nil {
			t.Fatal(err)
		}
		manage := f.mail.last("two_factor_code").Data["Code"].(string)
		passed.Store(0)
		// Every racer reads the challenge before any compares.
		var arrived atomic.Int32
		allRead := make(chan struct{})
		security.SetCheckHookForTest(f.sec, func() {
			if arrived.Add(1) == 4 {
				close(allRead)
			}
			select {
			case <-allRead:
			case <-time.After(30 * time.Second):
				t.Error("the racers never all read the challenge")
			}
		})
		burst(4, func(i int) {
			if _, err := f.sec.RegenerateBackupCodes(ctx, p, "tangerine-violin", manage, ""); err == nil {
				passed.Add(1)
			} else if !strings.Contains(keys(err), "code_wrong") {
				t.Errorf("racer %d: %v", i, keys(err))
			}
		}).Wait()
		if got := passed.Load(); got != 1 {
			t.Fatalf("%d racing uses of one emailed code renewed the backup codes, want 1", got)
		}
	})
}
