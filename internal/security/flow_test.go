package security_test

import (
	"context"
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/mail/mailtest"
	"roster/internal/security"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

type checkedMail struct{}

func (checkedMail) EnqueueTx(_ context.Context, _ *sql.Tx, _ int64, _, _, template string, data map[string]any) error {
	return mailtest.Check(template, data)
}

// countWorkspaceReads counts the reads of the workspaces table while fn
// runs.
func countWorkspaceReads(db *store.DB, fn func()) int {
	var n atomic.Int64
	db.SetQueryHook(func(q string) {
		if strings.Contains(q, "FROM workspaces") {
			n.Add(1)
		}
	})
	defer db.SetQueryHook(nil)
	fn()
	return int(n.Load())
}

// Each step of the one sign-in flow reads the workspace's policy (IP
// allowlist, mandatory two-step verification) once, where pages once read
// it three times per sign-in.
func TestSignInReadsThePolicyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		set := servicetest.New(t, services.Config{DB: db, Mail: checkedMail{}})
		if _, err := set.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Timezone: "UTC", Language: "en",
			Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"}); err != nil {
			t.Fatal(err)
		}
		in := auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "203.0.113.5"}
		var res *security.SignInResult
		var err error
		if n := countWorkspaceReads(db, func() { res, err = set.Security.SignIn(ctx, in) }); err != nil || n != 1 {
			t.Fatalf("password sign-in: %d workspace reads (want 1), %v", n, err)
		}
		p := &auth.Principal{User: res.User, Session: res.Session}
		setup, err := set.Security.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := set.Security.ConfirmTOTP(ctx, p, security.CodeAt(setup.Secret, now), ""); err != nil {
			t.Fatal(err)
		}
		if n := countWorkspaceReads(db, func() { res, err = set.Security.SignIn(ctx, in) }); err != nil || n != 1 || res.Challenge == nil {
			t.Fatalf("password step with two-step verification on: %d workspace reads (want 1), %+v, %v", n, res, err)
		}
		now = now.Add(31 * time.Second)
		if n := countWorkspaceReads(db, func() {
			res, err = set.Security.VerifyLogin(ctx, res.Challenge.Token, security.CodeAt(setup.Secret, now), in.IP)
		}); err != nil || n != 1 || res.LoginResult == nil {
			t.Fatalf("second step: %d workspace reads (want 1), %v", n, err)
		}
		if res.SetupRequired {
			t.Fatal("setup required of a user with two-step verification on")
		}
	})
}
