package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestHashAndVerify(t *testing.T) {
	h := auth.NewHasher(2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash parameters: %s", enc)
	}
	if ok, err := h.Verify(ctx, enc, "correct horse battery"); !ok || err != nil {
		t.Fatalf("verify right password: %v %v", ok, err)
	}
	if ok, _ := h.Verify(ctx, enc, "wrong horse battery"); ok {
		t.Fatal("wrong password verified")
	}
	if ok, err := h.Verify(ctx, "", "x"); ok || err != nil {
		t.Fatalf("empty hash: %v %v", ok, err)
	}
	if ok, err := h.Verify(ctx, "$argon2id$garbage", "x"); ok || err == nil {
		t.Fatalf("malformed hash: %v %v", ok, err)
	}
	enc2, _ := h.Hash(ctx, "correct horse battery")
	if enc == enc2 {
		t.Fatal("same salt twice")
	}
}

func TestHasherCapsConcurrency(t *testing.T) {
	h := auth.NewHasher(1)
	// With the only slot taken, a second hash waits instead of running: it
	// gives up when its context ends, and runs once the slot is free.
	release := auth.HoldSlotForTest(h)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(short, "password that waits"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second hash did not wait for the slot: %v", err)
	}
	release()
	if _, err := h.Hash(context.Background(), "password that runs"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestPasswordRules(t *testing.T) {
	cases := map[string]string{
		"":                          "errors.field.required",
		"short":                     "errors.field.too_short",
		strings.Repeat("x", 257):    "errors.field.too_long",
		"password123":               "errors.field.password_common",
		"PassWord123":               "errors.field.password_common",
		"qwertyuiop":                "errors.field.password_common",
		"tangerine-violin-42-orbit": "",
		strings.Repeat("ж", 8):      "",
		"ana.ruiz@example.com":      "errors.field.password_is_email",
		" Ana.Ruiz@Example.com ":    "errors.field.password_is_email",
	}
	for pw, want := range cases {
		if got, _ := auth.CheckPassword(pw, "ana.ruiz@example.com"); got != want {
			t.Errorf("%q: got %q want %q", pw, got, want)
		}
	}
}

func TestNewPasswordHash(t *testing.T) {
	// No storage is touched: the rule and the hash are all there is.
	svc := auth.NewService(nil, auth.Config{}, nil)
	ctx := context.Background()
	const email = "ana.ruiz@example.com"
	for pw, want := range map[string]string{
		" Ana.Ruiz@Example.com ": "errors.field.password_is_email",
		"short":                  "errors.field.too_short",
		"password123":            "errors.field.password_common",
	} {
		hash, err := svc.NewPasswordHash(ctx, nil, pw, email, "new_password")
		e := core.AsError(err)
		if hash != "" || e == nil || e.Code != core.EINVALID || len(e.Fields) != 1 ||
			e.Fields[0].Field != "new_password" || e.Fields[0].Key != want {
			t.Errorf("%q: got %q, %+v; want field new_password %s", pw, hash, err, want)
		}
	}
	// The caller's other field errors come back with the password's, and a
	// good password is not hashed while any is present.
	v := &core.Invalid{}
	v.Add("name", "errors.field.name_invalid", nil)
	if hash, err := svc.NewPasswordHash(ctx, v, "short", email, "password"); hash != "" || len(core.AsError(err).Fields) != 2 {
		t.Fatalf("with another bad field: %q %+v", hash, err)
	}
	v = &core.Invalid{}
	v.Add("name", "errors.field.name_invalid", nil)
	if hash, err := svc.NewPasswordHash(ctx, v, "tangerine-violin-42-orbit", email, "password"); hash != "" || len(core.AsError(err).Fields) != 1 {
		t.Fatalf("good password with another bad field: %q %+v", hash, err)
	}
	hash, err := svc.NewPasswordHash(ctx, &core.Invalid{}, "tangerine-violin-42-orbit", email, "password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := svc.Hasher.Verify(ctx, hash, "tangerine-violin-42-orbit"); !ok || err != nil {
		t.Fatalf("hash of a good password does not verify: %v %v", ok, err)
	}
}

func newUser(t *testing.T, db *store.DB, svc *env, email, pw string, state core.State) *core.User {
	t.Helper()
	ctx := context.Background()
	hash, err := svc.Hasher.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	var u *core.User
	err = db.InTx(ctx, func(q *store.Q) error {
		ws, err := q.WorkspaceByName(ctx, "Acme")
		if err != nil {
			ws = &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en"}
			if err := q.CreateWorkspace(ctx, ws); err != nil {
				return err
			}
		}
		u = &core.User{WorkspaceID: ws.ID, Name: "U", Email: email, PasswordHash: hash, Role: core.RoleAdmin,
			State: state, Language: "en", Timezone: "UTC"}
		return q.CreateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newEnv(t, db, auth.Config{AccountFailures: 3, IPFailures: 100})
		u := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		newUser(t, db, svc, "off@example.com", "tangerine-violin", core.StateInactive)

		res, err := svc.login(ctx, auth.LoginInput{Email: " ANA@Example.com ", Password: "tangerine-violin", IP: "1.2.3.4", Device: "Firefox · Linux"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, res.Token, "1.2.3.4")
		if err != nil || p.User.ID != u.ID || p.Session.Device != "Firefox · Linux" {
			t.Fatalf("authenticate: %+v %v", p, err)
		}
		again, _ := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "1.2.3.4"})
		if again.Token == res.Token {
			t.Fatal("token reused across sign-ins")
		}
		if got, _ := db.Reader().User(ctx, u.ID); got.LastSignInAt.IsZero() {
			t.Fatal("last sign-in not recorded")
		}

		// Unknown email, wrong password and inactive account: the same error.
		for _, in := range []auth.LoginInput{
			{Email: "nobody@example.com", Password: "tangerine-violin"},
			{Email: "ana@example.com", Password: "wrong-password"},
			{Email: "off@example.com", Password: "tangerine-violin"},
		} {
			in.IP = "5.6.7.8"
			_, err := svc.login(ctx, in)
			if e := core.AsError(err); e == nil || e.Code != core.EUNAUTHORIZED || e.Key != "errors.login_failed" {
				t.Fatalf("%s: %v", in.Email, err)
			}
		}
		// The account has 1 failure; two more reach the limit of 3.
		for range 2 {
			_, _ = svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "nope-nope", IP: "9.9.9.9"})
		}
		_, err = svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "9.9.9.9"})
		if e := core.AsError(err); e == nil || e.Code != core.ETOOMANY || e.RetryAfter < time.Second {
			t.Fatalf("throttle: %v", err)
		}
	})
}

func TestIPThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newEnv(t, db, auth.Config{AccountFailures: 100, IPFailures: 2})
		newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		for _, e := range []string{"a@x.io", "b@x.io"} {
			_, _ = svc.login(ctx, auth.LoginInput{Email: e, Password: "whatever1", IP: "7.7.7.7"})
		}
		_, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "7.7.7.7"})
		if core.ErrorCode(err) != core.ETOOMANY {
			t.Fatalf("ip throttle: %v", err)
		}
		if _, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin", IP: "8.8.8.8"}); err != nil {
			t.Fatalf("other ip blocked: %v", err)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		svc := newEnv(t, db, auth.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour})
		newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		res, err := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		// Last seen is written at most once a minute.
		now = now.Add(30 * time.Second)
		p, _ := svc.Authenticate(ctx, res.Token, "")
		if p.Session.LastSeenAt.UnixMilli() != res.Session.LastSeenAt.UnixMilli() {
			t.Fatal("last seen written within a minute")
		}
		// Used every 50 minutes: idle expiry never hits, absolute expiry does.
		for range 3 {
			now = now.Add(50 * time.Minute)
			if _, err := svc.Authenticate(ctx, res.Token, ""); err != nil {
				t.Fatalf("active session ended early: %v", err)
			}
		}
		now = now.Add(50 * time.Minute)
		if _, err := svc.Authenticate(ctx, res.Token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("absolute expiry: %v", err)
		}
		res2, _ := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin"})
		now = now.Add(61 * time.Minute)
		if _, err := svc.Authenticate(ctx, res2.Token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("idle expiry: %v", err)
		}
		res3, _ := svc.login(ctx, auth.LoginInput{Email: "ana@example.com", Password: "tangerine-violin"})
		p3, _ := svc.Authenticate(ctx, res3.Token, "")
		if err := svc.Logout(ctx, p3); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, res3.Token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("after logout: %v", err)
		}
	})
}

func TestAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		svc := newEnv(t, db, auth.Config{})
		admin := newUser(t, db, svc, "ana@example.com", "tangerine-violin", core.StateActive)
		for _, ttl := range []time.Duration{time.Hour, 6 * 365 * 24 * time.Hour} {
			if _, _, err := svc.CreateAPIToken(ctx, admin, "x", ttl); core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("ttl %v accepted: %v", ttl, err)
			}
		}
		plain := *admin
		plain.Role = core.RoleUser
		if _, _, err := svc.CreateAPIToken(ctx, &plain, "x", 24*time.Hour); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin created a token: %v", err)
		}
		secret, tok, err := svc.CreateAPIToken(ctx, admin, "CRM sync", 30*24*time.Hour)
		if err != nil || !strings.HasPrefix(secret, "rst_") {
			t.Fatalf("create: %v %q", err, secret)
		}
		stored, _ := db.Reader().APITokenByHash(ctx, auth.HashToken(secret))
		if stored.ID != tok.ID || strings.Contains(string(stored.TokenHash), secret) {
			t.Fatal("token not stored as a hash")
		}
		p, err := svc.Authenticate(ctx, secret, "")
		if err != nil || p.User.ID != admin.ID || p.Token == nil {
			t.Fatalf("token auth: %v", err)
		}
		list, _ := svc.APITokens(ctx, admin)
		if len(list) != 1 || list[0].LastUsedAt.IsZero() {
			t.Fatalf("last use not recorded: %+v", list)
		}
		now = now.Add(31 * 24 * time.Hour)
		if _, err := svc.Authenticate(ctx, secret, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("expired token: %v", err)
		}
		secret2, tok2, _ := svc.CreateAPIToken(ctx, admin, "Other", 24*time.Hour)
		if err := svc.RevokeAPIToken(ctx, admin, tok2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, secret2, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("revoked token: %v", err)
		}
	})
}
