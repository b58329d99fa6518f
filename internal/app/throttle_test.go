package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/security"
	"roster/internal/testenv"
)

// TestSignInThrottleAcrossInstances: two Rosters on one PostgreSQL database
// share the sign-in throttles. 100 parallel wrong passwords, then 100
// parallel wrong second-step codes, split between the instances, are
// checked at most 10 times each (the default account limit; every checked
// wrong guess leaves one audit entry), and the right password or backup
// code sent during the burst is refused.
func TestSignInThrottleAcrossInstances(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.FreshPostgres(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	// One secret key, as instances of one deployment share it: TOTP keys
	// sealed by one must open in the other.
	cfg := app.Config{DatabaseURL: dbURL, SecretKey: base64.StdEncoding.EncodeToString(key)}
	inst := []*running{start(t, "", cfg), start(t, "", cfg)}
	a := inst[0]
	const n, limit = 100, 10
	if got := a.Auth.Config().AccountFailures; got != limit {
		t.Fatalf("default account limit %d, want %d", got, limit)
	}

	setup, err := a.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	ana := setup.User
	bo, err := a.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bo", Email: "bo@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	countAudit := func(t *testing.T, target *core.User, action string) int {
		t.Helper()
		log, err := a.DB.Reader().AuditLog(ctx, target.WorkspaceID, target.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range log {
			if string(e.Action) == action {
				n++
			}
		}
		return n
	}
	waitFor := func(t *testing.T, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	burst := func(fn func(i int, r *running)) *sync.WaitGroup {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				fn(i, inst[i%2])
			})
		}
		close(start)
		return &wg
	}
	ip := func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/200, i%200) }

	t.Run("password", func(t *testing.T) {
		wg := burst(func(i int, r *running) {
			_, err := r.Security.SignIn(ctx, auth.LoginInput{Email: "ana@example.com", Password: fmt.Sprintf("wrong-%d", i), IP: ip(i)})
			if c := core.ErrorCode(err); c != core.EUNAUTHORIZED && c != core.ETOOMANY {
				t.Errorf("guess %d: %v", i, err)
			}
		})
		waitFor(t, "the first wrong passwords to be checked", func() bool { return countAudit(t, ana, string(core.AuditSignInFailed)) >= limit })
		if _, err := inst[1].Security.SignIn(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "10.9.9.9"}); core.ErrorCode(err) != core.ETOOMANY {
			t.Errorf("right password during the burst: %v, want ETOOMANY", err)
		}
		wg.Wait()
		if got := countAudit(t, ana, string(core.AuditSignInFailed)); got > limit {
			t.Fatalf("%d of %d parallel wrong passwords on two instances were checked; limit %d", got, n, limit)
		}
	})

	t.Run("second step", func(t *testing.T) {
		res, err := a.Security.SignIn(ctx, auth.LoginInput{Email: "bo@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Auth.Authenticate(ctx, res.Token, "")
		if err != nil {
			t.Fatal(err)
		}
		totp, err := a.Security.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		backup, err := inst[1].Security.ConfirmTOTP(ctx, p, security.CodeAt(totp.Secret, time.Now()), "")
		if err != nil {
			t.Fatal(err)
		}
		// A wrong code is one no step near now has.
		wrong := "000000"
		for i := 0; slices.Contains([]string{security.CodeAt(totp.Secret, time.Now().Add(-time.Minute)), security.CodeAt(totp.Secret, time.Now().Add(-30*time.Second)),
			security.CodeAt(totp.Secret, time.Now()), security.CodeAt(totp.Secret, time.Now().Add(30*time.Second)), security.CodeAt(totp.Secret, time.Now().Add(time.Minute))}, wrong); i++ {
			wrong = fmt.Sprintf("%06d", i+1)
		}
		// Two sign-ins waiting for their second step, through either instance.
		target, err := a.Security.SignIn(ctx, auth.LoginInput{Email: "bo@example.com", Password: "tangerine-violin"})
		if err != nil || target.Challenge == nil {
			t.Fatalf("sign-in: %+v %v", target, err)
		}
		other, err := inst[1].Security.SignIn(ctx, auth.LoginInput{Email: "bo@example.com", Password: "tangerine-violin"})
		if err != nil || other.Challenge == nil {
			t.Fatalf("sign-in: %+v %v", other, err)
		}
		wg := burst(func(i int, r *running) {
			_, err := r.Security.VerifyLogin(ctx, target.Challenge.Token, wrong, ip(i))
			switch core.ErrorCode(err) {
			case core.EINVALID, core.ETOOMANY, core.ENOTFOUND: // wrong, throttled, sign-in over
			default:
				t.Errorf("guess %d: %v", i, err)
			}
		})
		waitFor(t, "the first wrong codes to be checked", func() bool { return countAudit(t, bo, string(core.AuditSignInSecondStepFail)) >= limit })
		if _, err := a.Security.VerifyLogin(ctx, other.Challenge.Token, backup[0], "10.9.9.9"); core.ErrorCode(err) != core.ETOOMANY {
			t.Errorf("right backup code during the burst: %v, want ETOOMANY", err)
		}
		wg.Wait()
		if got := countAudit(t, bo, string(core.AuditSignInSecondStepFail)); got > limit {
			t.Fatalf("%d of %d parallel wrong codes on two instances were checked; limit %d", got, n, limit)
		}
		if _, err := inst[1].Security.VerifyLogin(ctx, other.Challenge.Token, backup[0], "10.9.9.9"); core.ErrorCode(err) != core.ETOOMANY {
			t.Fatalf("right backup code after the burst: %v, want ETOOMANY", err)
		}
	})
}
