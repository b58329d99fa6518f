package security_test

import (
	"context"
	"fmt"
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
					if err := f.sec.StartEmail(ctx, p, "tangerine-violin", "", ""); err != nil {
						t.Fatal(err)
					}
					if _, err := f.sec.ConfirmEmail(ctx, p, f.mail.last("two_factor_code").Data["Code"].(string), ""); err != nil {
						t.Fatal(err)
					}
				} else {
					secret, backup = f.enableTOTPAt(t, p)
					f.now = f.now.Add(30 * time.Second) // the enabling code is spent
				}
				res, err := f.auth.Login(ctx, auth.LoginInput{Email: "bo@example.com", Password: "tangerine-violin"})
				if err != nil || !res.SecondFactor {
					t.Fatalf("login: %+v %v", res, err)
				}
				// The burst goes to one sign-in; the right code to another.
				target, err := f.sec.BeginLogin(ctx, res.User, core.SessionWeb, "", "")
				if err != nil {
					t.Fatal(err)
				}
				other, err := f.sec.BeginLogin(ctx, res.User, core.SessionWeb, "", "")
				if err != nil {
					t.Fatal(err)
				}
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
