package security_test

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/mail/mailtest"
	"roster/internal/security"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
	"roster/internal/testenv"
)

type sent struct {
	To, Template string
	Data         map[string]any
}

type fakeMail struct {
	mu   sync.Mutex
	sent []sent
}

func (f *fakeMail) EnqueueTx(_ context.Context, tx *sql.Tx, _ int64, to, lang, template string, data map[string]any) error {
	if tx == nil {
		panic("mail outside a transaction")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sent{to, template, data})
	return mailtest.Check(template, data)
}

func (f *fakeMail) last(template string) *sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.sent) - 1; i >= 0; i-- {
		if f.sent[i].Template == template {
			return &f.sent[i]
		}
	}
	return nil
}

type fx struct {
	db    *store.DB
	auth  *auth.Service
	acc   *account.Service
	sec   *security.Service
	mail  *fakeMail
	now   time.Time
	admin *core.User
	user  *core.User
}

func setup(t *testing.T, db *store.DB) *fx {
	t.Helper()
	return setupWith(t, db, auth.Config{AccountFailures: 50})
}

func setupWith(t *testing.T, db *store.DB, cfg auth.Config) *fx {
	t.Helper()
	f := &fx{db: db, mail: &fakeMail{}, now: time.Now()}
	db.SetClock(func() time.Time { return f.now })
	set := servicetest.New(t, services.Config{DB: db, Mail: f.mail, Auth: cfg})
	f.auth, f.acc, f.sec = set.Auth, set.Accounts, set.Security
	res, err := f.acc.Setup(context.Background(), account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = res.User
	f.user, err = f.acc.CreateUser(context.Background(), account.CreateUserInput{Workspace: "Acme", Name: "Bo", Email: "bo@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// signIn opens a session of kind for email without a second step.
func (f *fx) signIn(t *testing.T, email string, kind core.SessionKind) (*auth.Principal, string) {
	t.Helper()
	ctx := context.Background()
	u, _ := f.db.Reader().UserByEmail(ctx, email)
	var token string
	err := f.db.InTx(ctx, func(q *store.Q) error {
		var err error
		token, _, err = f.auth.StartSession(ctx, q, u.ID, kind, "1.1.1.1", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.auth.Authenticate(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}
	return p, token
}

// challenge signs in with in (the right password when none is given) and
// returns the second step the sign-in waits for: no session is open yet.
func (f *fx) challenge(t *testing.T, in auth.LoginInput) *security.Challenge {
	t.Helper()
	if in.Password == "" {
		in.Password = "tangerine-violin"
	}
	res, err := f.sec.SignIn(context.Background(), in)
	if err != nil || res.Challenge == nil || res.LoginResult != nil {
		t.Fatalf("sign-in: %+v %v", res, err)
	}
	return res.Challenge
}

// oathtool computes a TOTP code the way a real authenticator app does.
func oathtool(t *testing.T, key string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		testenv.SkipOrFail(t, "oathtool is not installed (apt-get install -y oathtool); authenticator tests did not run")
	}
	out, err := exec.Command(path, "--totp", "-b", key, "-N", fmt.Sprintf("@%d", at.Unix())).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func keys(err error) string {
	e := core.AsError(err)
	if e == nil {
		return fmt.Sprint(err)
	}
	var k []string
	k = append(k, e.Key)
	for _, fe := range e.Fields {
		k = append(k, fe.Field+"="+fe.Key)
	}
	return strings.Join(k, " ")
}

func (f *fx) enableTOTP(t *testing.T, p *auth.Principal) (string, []string) {
	t.Helper()
	ctx := context.Background()
	setup, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.sec.ConfirmTOTP(ctx, p, oathtool(t, setup.Secret, f.now), "")
	if err != nil {
		t.Fatal(err)
	}
	return setup.Secret, codes
}

func TestAuthenticatorApp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		_, otherToken := f.signIn(t, "bo@example.com", core.SessionWeb)

		bearer, _ := f.signIn(t, "bo@example.com", core.SessionAPI)
		if _, err := f.sec.StartTOTP(ctx, bearer, "tangerine-violin", "", "Acme", ""); err != security.ErrWebOnly {
			t.Fatalf("enabled from a bearer session: %v", err)
		}
		if _, err := f.sec.StartTOTP(ctx, p, "wrong-password", "", "Acme", ""); !strings.Contains(keys(err), "password=errors.field.password_wrong") {
			t.Fatalf("wrong password: %v", keys(err))
		}
		setupRes, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(setupRes.URI, "otpauth://totp/") || !strings.Contains(setupRes.URI, "issuer=Roster") || !strings.Contains(setupRes.URI, setupRes.Secret) || len(setupRes.QRPNG) < 100 {
			t.Fatalf("setup: %+v", setupRes.URI)
		}
		var stored []byte
		if err := db.R.QueryRowContext(ctx, "SELECT secret_sealed FROM two_factor_methods WHERE user_id = "+fmt.Sprint(p.User.ID)).Scan(&stored); err != nil {
			t.Fatalf("read the stored key: %v", err)
		}
		if len(stored) == 0 || strings.Contains(string(stored), setupRes.Secret) {
			t.Fatalf("TOTP key not stored sealed: %q", stored)
		}
		if _, err := f.sec.ConfirmTOTP(ctx, p, "000000", ""); !strings.Contains(keys(err), "code=errors.field.code_wrong") {
			t.Fatalf("wrong code: %v", keys(err))
		}
		code := oathtool(t, setupRes.Secret, f.now)
		backup, err := f.sec.ConfirmTOTP(ctx, p, code, "")
		if err != nil || len(backup) != 10 {
			t.Fatalf("confirm: %v %v", backup, err)
		}
		if u, _ := db.Reader().User(ctx, p.User.ID); !u.TwoFactorEnabled {
			t.Fatal("flag not set")
		}
		if _, err := f.auth.Authenticate(ctx, otherToken, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatal("other sessions survived enabling 2FA")
		}
		if m := f.mail.last("two_factor_enabled"); m == nil || m.To != "bo@example.com" {
			t.Fatal("no confirmation mail")
		}

		// Next sign-in needs a code; the code used to enable cannot be replayed.
		res, err := f.sec.SignIn(ctx, auth.LoginInput{Email: "bo@example.com", Password: "tangerine-violin", IP: "2.2.2.2", Device: "Firefox · Linux"})
		if err != nil || res.LoginResult != nil || res.Challenge == nil {
			t.Fatalf("login: %+v %v", res, err)
		}
		ch := res.Challenge
		if fmt.Sprint(ch.Methods) != "[totp backup_code]" || ch.EmailSent {
			t.Fatalf("challenge: %+v", ch)
		}
		// Refused as used, not as wrong: the user is told to wait for the next code.
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, code, "2.2.2.2"); !strings.Contains(keys(err), "code=errors.field.code_used") {
			t.Fatalf("replayed code: %v, want code_used", keys(err))
		}
		f.now = f.now.Add(30 * time.Second)
		next := oathtool(t, setupRes.Secret, f.now)
		done, err := f.sec.VerifyLogin(ctx, ch.Token, next, "2.2.2.2")
		if err != nil || done.Token == "" || done.Session.Device != "Firefox · Linux" {
			t.Fatalf("verify: %v", err)
		}
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, next, "2.2.2.2"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("challenge used twice: %v", err)
		}

		// A backup code works once.
		ch2 := f.challenge(t, auth.LoginInput{Email: "bo@example.com", Kind: core.SessionAPI})
		if _, err := f.sec.VerifyLogin(ctx, ch2.Token, strings.ToUpper(backup[0]), ""); err != nil {
			t.Fatalf("backup code: %v", err)
		}
		ch3 := f.challenge(t, auth.LoginInput{Email: "bo@example.com", Kind: core.SessionAPI})
		if _, err := f.sec.VerifyLogin(ctx, ch3.Token, backup[0], ""); !strings.Contains(keys(err), "code_wrong") {
			t.Fatalf("backup code used twice: %v", keys(err))
		}
		if st, _ := f.sec.Status(ctx, p.User); st.BackupCodesLeft != 9 || !st.TOTP {
			t.Fatalf("status: %+v", st)
		}
		// Expired challenge.
		f.now = f.now.Add(11 * time.Minute)
		if _, err := f.sec.VerifyLogin(ctx, ch3.Token, oathtool(t, setupRes.Secret, f.now), ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("expired challenge: %v", err)
		}
	})
}

// TestTOTPCodeAcceptedOnceUnderConcurrency: several sign-ins racing with
// one authenticator code let exactly one through. Both guards are needed:
// racers that read the method before anyone recorded the step all pass the
// matcher, so only the store's conditional update can stop them; a racer
// that reads the recorded step must be refused by the matcher itself.
func TestTOTPCodeAcceptedOnceUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		secret, _ := f.enableTOTPAt(t, p)
		f.now = f.now.Add(30 * time.Second) // the enabling code is spent
		code := security.CodeAt(secret, f.now)
		// One sign-in per racer (each checks the password, which passes, so
		// its throttle attempt is given back).
		const racers = 8
		tokens := make([]string, racers)
		for i := range tokens {
			tokens[i] = f.challenge(t, auth.LoginInput{Email: "bo@example.com"}).Token
		}
		// Every racer reads the method before any of them writes (the hook
		// runs between the read and the comparison).
		var arrived atomic.Int32
		allRead := make(chan struct{})
		security.SetCheckHookForTest(f.sec, func() {
			if arrived.Add(1) == racers {
				close(allRead)
			}
			select {
			case <-allRead:
			case <-time.After(30 * time.Second):
				t.Error("the racers never all read the method")
			}
		})
		var passed atomic.Int32
		burst(racers, func(i int) {
			_, err := f.sec.VerifyLogin(ctx, tokens[i], code, "")
			switch {
			case err == nil:
				passed.Add(1)
			case !strings.Contains(keys(err), "code=errors.field.code_used"):
				// The losers' code was right but taken: "already used".
				t.Errorf("racer %d: %v", i, keys(err))
			}
		}).Wait()
		security.SetCheckHookForTest(f.sec, nil)
		if got := passed.Load(); got != 1 {
			t.Fatalf("%d of %d racing uses of one code signed in, want 1", got, racers)
		}

		// A racer arriving after the step was recorded sees it and the
		// matcher alone refuses the code.
		methods, err := db.Reader().SecondFactors(ctx, p.User.ID)
		if err != nil || len(methods) != 1 {
			t.Fatalf("methods: %d, %v", len(methods), err)
		}
		if want := f.now.Unix() / 30; methods[0].LastStep != want {
			t.Fatalf("last accepted step %d, want %d", methods[0].LastStep, want)
		}
		if step, ok := security.MatchTOTP(secret, code, f.now, methods[0].LastStep); ok {
			t.Fatalf("the matcher accepts the spent code again (step %d)", step)
		}
	})
}

var codeRE = regexp.MustCompile(`^\d{6}$`)

func TestEmailCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		if err := f.sec.StartEmail(ctx, p, "tangerine-violin", "", ""); err != nil {
			t.Fatal(err)
		}
		code := f.mail.last("two_factor_code").Data["Code"].(string)
		if !codeRE.MatchString(code) {
			t.Fatalf("code %q", code)
		}
		backup, err := f.sec.ConfirmEmail(ctx, p, code, "")
		if err != nil || len(backup) != 10 {
			t.Fatalf("confirm email method: %v", err)
		}

		login := func() *security.Challenge {
			ch := f.challenge(t, auth.LoginInput{Email: "bo@example.com"})
			if !ch.EmailSent {
				t.Fatalf("no code mailed: %+v", ch)
			}
			return ch
		}
		ch := login()
		code = f.mail.last("two_factor_code").Data["Code"].(string)
		if err := f.sec.ResendEmailCode(ctx, ch.Token); core.ErrorCode(err) != core.ETOOMANY {
			t.Fatalf("resend within a minute: %v", err)
		}
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, code, ""); err != nil {
			t.Fatalf("email code sign-in: %v", err)
		}

		// At most five tries per code.
		ch = login()
		code = f.mail.last("two_factor_code").Data["Code"].(string)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for range 5 {
			_, _ = f.sec.VerifyLogin(ctx, ch.Token, wrong, "")
		}
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, code, ""); err == nil {
			t.Fatal("the right code worked after five wrong tries")
		}
		f.now = f.now.Add(61 * time.Second)
		if err := f.sec.ResendEmailCode(ctx, ch.Token); err != nil {
			t.Fatalf("resend: %v", err)
		}
		fresh := f.mail.last("two_factor_code").Data["Code"].(string)
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, fresh, ""); err != nil {
			t.Fatalf("resent code: %v", err)
		}

		// Expired code.
		ch = login()
		code = f.mail.last("two_factor_code").Data["Code"].(string)
		f.now = f.now.Add(EmailTTL() + time.Second)
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, code, ""); err == nil {
			t.Fatal("expired email code accepted")
		}
	})
}

func EmailTTL() time.Duration { return security.EmailCodeTTL }

func TestDisableAndReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		secret, backup := f.enableTOTP(t, p)
		p, _ = f.signIn(t, "bo@example.com", core.SessionWeb)

		if err := f.sec.Disable(ctx, p, core.MethodTOTP, "tangerine-violin", "", ""); !strings.Contains(keys(err), "code_required") {
			t.Fatalf("disable without a code: %v", keys(err))
		}
		if err := f.sec.Disable(ctx, p, core.MethodTOTP, "wrong-password", backup[0], ""); !strings.Contains(keys(err), "password_wrong") {
			t.Fatalf("disable with a wrong password: %v", keys(err))
		}
		bearer, _ := f.signIn(t, "bo@example.com", core.SessionAPI)
		if err := f.sec.Disable(ctx, bearer, core.MethodTOTP, "tangerine-violin", backup[0], ""); err != security.ErrWebOnly {
			t.Fatalf("disable from bearer: %v", err)
		}
		codes, err := f.sec.RegenerateBackupCodes(ctx, p, "tangerine-violin", backup[1], "")
		if err != nil || len(codes) != 10 || codes[0] == backup[0] {
			t.Fatalf("regenerate: %v", err)
		}
		if err := f.sec.Disable(ctx, p, core.MethodTOTP, "tangerine-violin", backup[2], ""); !strings.Contains(keys(err), "code_wrong") {
			t.Fatalf("old backup code after regenerating: %v", keys(err))
		}
		f.now = f.now.Add(time.Minute)
		if err := f.sec.Disable(ctx, p, core.MethodTOTP, "tangerine-violin", oathtool(t, secret, f.now), ""); err != nil {
			t.Fatalf("disable: %v", err)
		}
		if st, _ := f.sec.Status(ctx, p.User); st.Enabled() || st.BackupCodesLeft != 0 {
			t.Fatalf("after disabling the last method: %+v", st)
		}
		if u, _ := db.Reader().User(ctx, p.User.ID); u.TwoFactorEnabled {
			t.Fatal("flag still on")
		}

		// Admin reset.
		_, _ = f.enableTOTP(t, p)
		admin, _ := f.signIn(t, "ana@example.com", core.SessionWeb)
		if err := f.sec.Reset(ctx, admin, f.admin.ID, ""); err == nil || core.AsError(err).Key != "errors.two_factor_own_reset" {
			t.Fatalf("own reset: %v", err)
		}
		if err := f.sec.Reset(ctx, p, f.admin.ID, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin reset: %v", err)
		}
		adminBearer, _ := f.signIn(t, "ana@example.com", core.SessionAPI)
		if err := f.sec.Reset(ctx, adminBearer, p.User.ID, ""); err != security.ErrWebOnly {
			t.Fatalf("reset from a bearer session: %v", err)
		}
		if err := f.sec.Reset(ctx, &auth.Principal{User: f.admin, Token: &core.APIToken{}}, p.User.ID, ""); err != security.ErrWebOnly {
			t.Fatalf("reset with an API token: %v", err)
		}
		if err := f.sec.Reset(ctx, admin, p.User.ID, "3.3.3.3"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.auth.Authenticate(ctx, "", ""); err == nil {
			t.Fatal("empty token")
		}
		if u, _ := db.Reader().User(ctx, p.User.ID); u.TwoFactorEnabled {
			t.Fatal("reset left 2FA on")
		}
		if sessions, _ := db.Reader().UserSessions(ctx, p.User.ID); len(sessions) != 0 {
			t.Fatal("reset left sessions")
		}
		if m := f.mail.last("two_factor_reset"); m == nil || m.Data["AdminName"] != "Ana" {
			t.Fatal("no reset mail")
		}
	})
}

func TestTwoFactorSessionsIdleSooner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		f.enableTOTP(t, p)
		_, token := f.signIn(t, "bo@example.com", core.SessionWeb)
		_, adminToken := f.signIn(t, "ana@example.com", core.SessionWeb)
		f.now = f.now.Add(31 * 24 * time.Hour)
		if _, err := f.auth.Authenticate(ctx, token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatal("a 2FA user's session outlived 30 idle days")
		}
		if _, err := f.auth.Authenticate(ctx, adminToken, ""); err != nil {
			t.Fatalf("a normal session ended after 31 days: %v", err)
		}
	})
}

// FuzzMatchTOTP: a code matches only a step inside the ±1 window, after the
// last accepted step, and matching is deterministic.
func FuzzMatchTOTP(f *testing.F) {
	f.Add(int64(1_700_000_000), int64(0), int64(0))
	f.Add(int64(1_700_000_000), int64(1), int64(56666666))
	f.Add(int64(59), int64(-1), int64(1))
	f.Fuzz(func(t *testing.T, unix, offset, lastStep int64) {
		if unix < 0 || unix > 1<<40 {
			return
		}
		offset = offset % 4
		secret := "JBSWY3DPEHPK3PXP"
		now := time.Unix(unix, 0)
		codeAt := now.Add(time.Duration(offset) * 30 * time.Second)
		if codeAt.Unix() < 0 {
			return // TOTP has no steps before 1970
		}
		code := security.CodeAt(secret, codeAt)
		step, ok := security.MatchTOTP(secret, code, now, lastStep)
		want := codeAt.Unix() / 30
		inWindow := offset >= -1 && offset <= 1 && want > lastStep
		if ok && (step <= lastStep || step < now.Unix()/30-1 || step > now.Unix()/30+1) {
			t.Fatalf("matched step %d outside window (now %d, last %d)", step, now.Unix()/30, lastStep)
		}
		if inWindow && !ok {
			t.Fatalf("code of step %d not accepted (now %d, last %d)", want, now.Unix()/30, lastStep)
		}
	})
}

// TestDisableWithEmailedCode: a user whose method is email codes asks for a
// code to turn it off; the code works once.
func TestDisableWithEmailedCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		f.enableEmail(t, p)
		p, _ = f.signIn(t, "bo@example.com", core.SessionWeb)
		bearer, _ := f.signIn(t, "bo@example.com", core.SessionAPI)
		if err := f.sec.SendManageCode(ctx, bearer); err != security.ErrWebOnly {
			t.Fatalf("bearer: %v", err)
		}
		if err := f.sec.SendManageCode(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := f.sec.SendManageCode(ctx, p); core.ErrorCode(err) != core.ETOOMANY {
			t.Fatalf("second code within a minute: %v", err)
		}
		code := f.mail.last("two_factor_code").Data["Code"].(string)
		codes, err := f.sec.RegenerateBackupCodes(ctx, p, "tangerine-violin", code, "")
		if err != nil || len(codes) != 10 {
			t.Fatalf("regenerate with an emailed code: %v", err)
		}
		if err := f.sec.Disable(ctx, p, core.MethodEmail, "tangerine-violin", code, ""); !strings.Contains(keys(err), "code_wrong") {
			t.Fatalf("emailed code reused: %v", keys(err))
		}
		f.now = f.now.Add(61 * time.Second)
		if err := f.sec.SendManageCode(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := f.sec.Disable(ctx, p, core.MethodEmail, "tangerine-violin", f.mail.last("two_factor_code").Data["Code"].(string), ""); err != nil {
			t.Fatalf("disable with an emailed code: %v", err)
		}
		if st, _ := f.sec.Status(ctx, p.User); st.Enabled() {
			t.Fatal("still on")
		}
	})
}

// TestAddingAMethodNeedsACode: while one method is on, adding another needs
// a current code too, so a session and the password alone cannot add their
// own authenticator and then turn the user's method off with it.
func TestAddingAMethodNeedsACode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		backup := f.enableEmail(t, p)
		p, _ = f.signIn(t, "bo@example.com", core.SessionWeb)
		if _, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", "", "Acme", ""); !strings.Contains(keys(err), "code_required") {
			t.Fatalf("without a code: %v", keys(err))
		}
		if _, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", "000000", "Acme", ""); !strings.Contains(keys(err), "code_wrong") {
			t.Fatalf("with a wrong code: %v", keys(err))
		}
		if _, err := f.sec.StartTOTP(ctx, p, "wrong-password", backup[0], "Acme", ""); !strings.Contains(keys(err), "password_wrong") {
			t.Fatalf("with a wrong password: %v", keys(err))
		}
		if _, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", backup[0], "Acme", ""); err != nil {
			t.Fatalf("with a backup code: %v", err)
		}
		if _, err := f.sec.StartTOTP(ctx, p, "tangerine-violin", backup[0], "Acme", ""); !strings.Contains(keys(err), "code_wrong") {
			t.Fatalf("a spent backup code again: %v", keys(err))
		}
	})
}

// TestChallengeEndsAfterTenWrongCodes: a sign-in's second step accepts at
// most ten wrong codes, then the sign-in starts over from the password.
func TestChallengeEndsAfterTenWrongCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		secret, _ := f.enableTOTP(t, p)
		ch := f.challenge(t, auth.LoginInput{Email: "bo@example.com"})
		for range security.ChallengeTries {
			if _, err := f.sec.VerifyLogin(ctx, ch.Token, "000000", ""); core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("wrong code: %v", err)
			}
		}
		f.now = f.now.Add(30 * time.Second)
		if _, err := f.sec.VerifyLogin(ctx, ch.Token, oathtool(t, secret, f.now), ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("the right code worked after %d wrong ones: %v", security.ChallengeTries, err)
		}
	})
}

// enableEmail turns emailed codes on for p's user with the mailed code and
// returns the backup codes.
func (f *fx) enableEmail(t *testing.T, p *auth.Principal) []string {
	t.Helper()
	if err := f.sec.StartEmail(context.Background(), p, "tangerine-violin", "", ""); err != nil {
		t.Fatal(err)
	}
	backup, err := f.sec.ConfirmEmail(context.Background(), p, f.mail.last("two_factor_code").Data["Code"].(string), "")
	if err != nil || len(backup) != security.BackupCodeCount {
		t.Fatalf("enable email: %v", err)
	}
	return backup
}
