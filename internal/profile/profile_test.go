package profile_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"image/color"
	"roster/internal/mail/mailtest"
	"roster/internal/security"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/profile"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

type sent struct {
	To, Lang, Template string
	Data               map[string]any
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
	f.sent = append(f.sent, sent{to, lang, template, data})
	return mailtest.Check(template, data)
}

func (f *fakeMail) last(template string) *sent {
	for i := len(f.sent) - 1; i >= 0; i-- {
		if f.sent[i].Template == template {
			return &f.sent[i]
		}
	}
	return nil
}

type fx struct {
	db       *store.DB
	auth     *auth.Service
	acc      *account.Service
	prof     *profile.Service
	sec      *security.Service
	mail     *fakeMail
	admin    *core.User
	plain    *core.User
	access   *core.User
	now      time.Time
	adminRes *auth.LoginResult
	tokens   map[int64]string
}

// login signs in a user without two-step verification.
func (f *fx) signIn(ctx context.Context, in auth.LoginInput) (*auth.LoginResult, error) {
	res, err := f.sec.SignIn(ctx, in)
	if err != nil {
		return nil, err
	}
	return res.LoginResult, nil
}

func setup(t *testing.T, db *store.DB) *fx {
	t.Helper()
	ctx := context.Background()
	f := &fx{db: db, mail: &fakeMail{}, now: time.Now(), tokens: map[int64]string{}}
	db.SetClock(func() time.Time { return f.now })
	set := servicetest.New(t, services.Config{DB: db, Mail: f.mail})
	f.auth, f.acc, f.prof, f.sec = set.Auth, set.Accounts, set.Profiles, set.Security
	res, err := f.acc.Setup(ctx, account.SetupInput{Workspace: "Acme", Language: "es", Timezone: "Europe/Madrid",
		Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	f.admin, f.adminRes = res.User, res
	f.plain = f.user(t, "pablo@example.com", "Pablo")
	f.access = f.user(t, "lucia@example.com", "Lucía", core.RightProfileAccess)
	return f
}

func (f *fx) user(t *testing.T, email, name string, rights ...core.Right) *core.User {
	t.Helper()
	u, err := f.acc.CreateUser(context.Background(), account.CreateUserInput{Workspace: "Acme", Name: name, Email: email,
		Password: "tangerine-violin", Role: core.RoleUser, Rights: rights})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fx) login(t *testing.T, email string) *auth.Principal {
	t.Helper()
	return f.loginWith(t, email, "tangerine-violin")
}

func ptr(s string) *string { return &s }

func fieldKeys(err error) map[string]string {
	out := map[string]string{}
	if e := core.AsError(err); e != nil {
		for _, fe := range e.Fields {
			out[fe.Field] = fe.Key
		}
	}
	return out
}

func TestUpdateAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, err := f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Name: ptr("  Pablo Ruiz "), Phone: ptr("612 34 56 78"),
			Language: ptr("pt-BR"), Timezone: ptr("America/Sao_Paulo")}, "1.2.3.4")
		if err != nil {
			t.Fatal(err)
		}
		u := p.User
		if u.Name != "Pablo Ruiz" || u.Phone != "+34612345678" || u.Language != "pt-BR" || u.Timezone != "America/Sao_Paulo" {
			t.Fatalf("saved: %+v", u)
		}
		// Several bad fields: all reported, nothing saved, not even the good one.
		_, err = f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Name: ptr(""), Phone: ptr("12"), Language: ptr("de"),
			Timezone: ptr("Mars/Base")}, "")
		keys := fieldKeys(err)
		if core.ErrorCode(err) != core.EINVALID || keys["name"] != "errors.field.name_invalid" || keys["phone"] != "errors.field.phone_invalid" ||
			keys["language"] != "errors.field.language_invalid" || keys["timezone"] != "errors.field.timezone_invalid" {
			t.Fatalf("invalid save: %v %v", err, keys)
		}
		_, err = f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Name: ptr("Changed"), Phone: ptr("nope")}, "")
		if core.ErrorCode(err) != core.EINVALID {
			t.Fatal(err)
		}
		// An extension is refused, never dropped; invisible and letterless
		// names each get their own message.
		_, err = f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Name: ptr("Pablo\u202eziuR"), Phone: ptr("612 34 56 78 ext. 12")}, "")
		if keys := fieldKeys(err); keys["phone"] != "errors.field.phone_extension" || keys["name"] != "errors.field.name_invisible_chars" {
			t.Fatalf("extension / invisible name: %v %v", err, keys)
		}
		_, err = f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Name: ptr("\u200b-\u200b")}, "")
		if keys := fieldKeys(err); keys["name"] != "errors.field.name_invisible_chars" {
			t.Fatalf("zero-width name: %v %v", err, keys)
		}
		_, err = f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Name: ptr("- . -")}, "")
		if keys := fieldKeys(err); keys["name"] != "errors.field.name_no_letter" {
			t.Fatalf("letterless name: %v %v", err, keys)
		}
		again, _ := f.prof.Get(ctx, f.plain, f.plain.ID)
		if again.User.Name != "Pablo Ruiz" || again.User.Phone != "+34612345678" {
			t.Fatalf("a refused save changed something: %+v", again.User)
		}
		// Empty phone clears it; a number with a country code ignores the region.
		p, _ = f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Phone: ptr("+1 415 555 2671")}, "")
		if p.User.Phone != "+14155552671" {
			t.Fatalf("phone %q", p.User.Phone)
		}
		p, _ = f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Phone: ptr("")}, "")
		if p.User.Phone != "" {
			t.Fatal("empty phone did not clear")
		}
	})
}

func TestWhoMayEditWhom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if _, err := f.prof.Update(ctx, f.plain, f.access.ID, profile.Changes{Name: ptr("X")}, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("plain user edited another: %v", err)
		}
		if _, err := f.prof.Get(ctx, f.plain, f.admin.ID); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("plain user opened another: %v", err)
		}
		if p, err := f.prof.Update(ctx, f.access, f.plain.ID, profile.Changes{Name: ptr("Pablo R.")}, ""); err != nil || p.User.Name != "Pablo R." {
			t.Fatalf("profile access edit: %v", err)
		}
		other, err := f.acc.CreateUser(ctx, account.CreateUserInput{Workspace: "Other", Name: "O", Email: "o@other.io", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.prof.Update(ctx, f.admin, other.ID, profile.Changes{Name: ptr("X")}, ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("cross-workspace edit: %v", err)
		}
		if _, err := f.prof.Get(ctx, f.admin, other.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("cross-workspace view: %v", err)
		}
	})
}

func TestNoteVisibilityAndAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if _, err := f.prof.Update(ctx, f.plain, f.plain.ID, profile.Changes{Note: ptr("me")}, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("plain user wrote a note: %v", err)
		}
		if _, err := f.prof.Update(ctx, f.access, f.plain.ID, profile.Changes{Note: ptr(strings.Repeat("n", 2001))}, ""); fieldKeys(err)["note"] != "errors.field.too_long" {
			t.Fatalf("long note: %v", err)
		}
		p, err := f.prof.Update(ctx, f.access, f.plain.ID, profile.Changes{Note: ptr("Prefers calls after 10:00")}, "9.9.9.9")
		if err != nil || p.User.Note != "Prefers calls after 10:00" || !p.NoteVisible {
			t.Fatalf("note by profile access: %+v %v", p, err)
		}
		own, _ := f.prof.Get(ctx, f.plain, f.plain.ID)
		if own.NoteVisible {
			t.Fatal("plain user may see their own note")
		}
		for _, viewer := range []*core.User{f.admin, f.access} {
			if p, _ := f.prof.Get(ctx, viewer, f.plain.ID); !p.NoteVisible {
				t.Fatalf("%s cannot see the note", viewer.Email)
			}
		}
		log, err := f.prof.AuditLog(ctx, f.admin, f.plain.ID)
		if err != nil || len(log) != 1 || log[0].Action != core.AuditNoteChanged || log[0].ActorID != f.access.ID || log[0].IP != "9.9.9.9" || log[0].ActorName != "Lucía" {
			t.Fatalf("audit: %+v %v", log, err)
		}
		if _, err := f.prof.AuditLog(ctx, f.access, f.plain.ID); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin read the audit log: %v", err)
		}
	})
}

func TestEmailChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		for in, want := range map[string]string{"bad": "errors.field.email_invalid", "PABLO@example.com": "errors.field.email_same"} {
			if _, err := f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, in, ""); fieldKeys(err)["email"] != want {
				t.Fatalf("%s: %v", in, err)
			}
		}
		// Someone else's address is answered like a free one, mails nothing
		// to its owner and cannot be confirmed.
		n := len(f.mail.sent)
		p, err := f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "ANA@example.com", "")
		if err != nil || p.PendingEmail != "ana@example.com" {
			t.Fatalf("taken address: %+v %v", p, err)
		}
		for _, m := range f.mail.sent[n:] {
			if m.To == "ana@example.com" {
				t.Fatalf("the owner of a taken address got %s", m.Template)
			}
		}
		// The confirmation of a free address fails once someone else took it.
		_, _ = f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "grab@example.com", "")
		grab := strings.TrimPrefix(f.mail.last("email_confirm").Data["Link"].(string), "https://roster.example/email/confirm/")
		f.user(t, "grab@example.com", "Grabber")
		if _, err := f.prof.ConfirmEmailChange(ctx, grab, ""); err != profile.ErrEmailTakenAtConfirm {
			t.Fatalf("confirm a taken address: %v", err)
		}
		f.now = f.now.Add(time.Hour) // past the request limit
		p, err = f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "Pablo.New@Example.com", "1.1.1.1")
		if err != nil || p.PendingEmail != "pablo.new@example.com" || p.User.Email != "pablo@example.com" {
			t.Fatalf("request: %+v %v", p, err)
		}
		confirm, notice := f.mail.last("email_confirm"), f.mail.last("email_change_notice")
		if confirm == nil || confirm.To != "pablo.new@example.com" || notice == nil || notice.To != "pablo@example.com" || confirm.Lang != "es" {
			t.Fatalf("mails: %+v", f.mail.sent)
		}
		token := strings.TrimPrefix(confirm.Data["Link"].(string), "https://roster.example/email/confirm/")
		u, err := f.prof.ConfirmEmailChange(ctx, token, "")
		if err != nil || u.Email != "pablo.new@example.com" {
			t.Fatalf("confirm: %v", err)
		}
		if _, err := f.prof.ConfirmEmailChange(ctx, token, ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("link used twice: %v", err)
		}
		if p, _ := f.prof.Get(ctx, f.plain, f.plain.ID); p.PendingEmail != "" {
			t.Fatal("pending email left after confirmation")
		}

		// Expired link.
		_, _ = f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "late@example.com", "")
		late := strings.TrimPrefix(f.mail.last("email_confirm").Data["Link"].(string), "https://roster.example/email/confirm/")
		f.now = f.now.Add(24*time.Hour + time.Second)
		if _, err := f.prof.ConfirmEmailChange(ctx, late, ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("expired link: %v", err)
		}
		if p, _ := f.prof.Get(ctx, f.plain, f.plain.ID); p.PendingEmail != "" {
			t.Fatal("an expired change still shows as pending")
		}
		// Cancel.
		_, _ = f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "other@example.com", "")
		if p, err := f.prof.CancelEmailChange(ctx, f.plain, f.plain.ID, ""); err != nil || p.PendingEmail != "" {
			t.Fatalf("cancel: %v", err)
		}
		if _, err := f.prof.CancelEmailChange(ctx, f.plain, f.plain.ID, ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("cancel with nothing pending: %v", err)
		}
		log, _ := f.prof.AuditLog(ctx, f.admin, f.plain.ID)
		if len(log) < 3 || log[len(log)-1].Action != core.AuditEmailChangeRequested {
			t.Fatalf("audit: %+v", log)
		}
		for _, e := range log {
			if strings.Contains(e.Detail, token) {
				t.Fatal("a token was written to the audit log")
			}
		}
	})
}

// TestEmailChangeOfAdminNeedsAdmin: the profile-access right edits other
// fields of others but cannot point anyone's sign-in address elsewhere.
func TestEmailChangeOfAdminNeedsAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		n := len(f.mail.sent)
		for _, target := range []*core.User{f.admin, f.plain} {
			if _, err := f.prof.RequestEmailChange(ctx, f.access, target.ID, "attacker@example.net", ""); core.ErrorCode(err) != core.EFORBIDDEN {
				t.Fatalf("profile access changed %s's email: %v", target.Email, err)
			}
		}
		if len(f.mail.sent) != n {
			t.Fatalf("mail sent: %+v", f.mail.sent[n:])
		}
		if p, _ := f.prof.Get(ctx, f.admin, f.admin.ID); p.PendingEmail != "" {
			t.Fatal("a change is pending")
		}
		if _, err := f.prof.Update(ctx, f.access, f.plain.ID, profile.Changes{Phone: ptr("612 34 56 78")}, ""); err != nil {
			t.Fatalf("profile access lost other fields: %v", err)
		}
		if _, err := f.prof.RequestEmailChange(ctx, f.admin, f.plain.ID, "pablo2@example.com", ""); err != nil {
			t.Fatalf("admin: %v", err)
		}
		// Nor may profile access cancel the change an admin started.
		if _, err := f.prof.CancelEmailChange(ctx, f.access, f.plain.ID, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("profile access cancelled another's email change: %v", err)
		}
		if p, _ := f.prof.Get(ctx, f.admin, f.plain.ID); p.PendingEmail != "pablo2@example.com" {
			t.Fatal("the pending change is gone")
		}
	})
}

// TestEmailChangeRateLimit: at most EmailChangesPerHour requests per user
// an hour, even when they arrive at once.
func TestEmailChangeRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		const tries = 12
		var wg sync.WaitGroup
		errs := make(chan error, tries)
		for i := range tries {
			wg.Go(func() {
				_, err := f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, fmt.Sprintf("p%d@example.com", i), "")
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		ok, limited := 0, 0
		for err := range errs {
			switch {
			case err == nil:
				ok++
			case core.ErrorCode(err) == core.ETOOMANY && core.AsError(err).RetryAfter > 0:
				limited++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}
		if ok != profile.EmailChangesPerHour || limited != tries-ok {
			t.Fatalf("%d accepted, %d limited", ok, limited)
		}
		f.mail.mu.Lock()
		confirms := 0
		for _, m := range f.mail.sent {
			if m.Template == "email_confirm" {
				confirms++
			}
		}
		f.mail.mu.Unlock()
		if confirms != profile.EmailChangesPerHour {
			t.Fatalf("%d confirmation mails", confirms)
		}
		f.now = f.now.Add(time.Hour + time.Second)
		if _, err := f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "later@example.com", ""); err != nil {
			t.Fatalf("after an hour: %v", err)
		}
	})
}

func TestEmailLockedWhileTwoFactorOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if _, err := f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "before@example.com", ""); err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(f.mail.last("email_confirm").Data["Link"].(string), "https://roster.example/email/confirm/")
		f.setTwoFactor(t, f.plain.ID, true)
		_, err := f.prof.RequestEmailChange(ctx, f.plain, f.plain.ID, "new@example.com", "")
		if e := core.AsError(err); e == nil || e.Code != core.ECONFLICT || e.Key != "errors.email_locked_2fa" {
			t.Fatalf("request with 2FA on: %v", err)
		}
		if _, err := f.prof.ConfirmEmailChange(ctx, token, ""); core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("confirm with 2FA on: %v", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		other := f.login(t, "pablo@example.com") // another device
		p := f.login(t, "pablo@example.com")

		// Just signed in, 2FA off: no current password needed.
		if err := f.prof.ChangePassword(ctx, p, profile.PasswordChange{New: "marmalade-orbit-77"}); err != nil {
			t.Fatalf("recent sign-in change: %v", err)
		}
		if _, err := f.auth.Authenticate(ctx, tokenOf(t, f, other), ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatal("another session survived a password change")
		}
		if _, err := f.auth.Authenticate(ctx, tokenOf(t, f, p), ""); err != nil {
			t.Fatalf("the current session ended: %v", err)
		}
		if m := f.mail.last("password_changed"); m == nil || m.To != "pablo@example.com" {
			t.Fatal("no notice mail")
		}
		// Eleven minutes later the current password is required.
		f.now = f.now.Add(11 * time.Minute)
		p.User, _ = db.Reader().User(ctx, p.User.ID)
		err := f.prof.ChangePassword(ctx, p, profile.PasswordChange{New: "another-long-one-88"})
		if fieldKeys(err)["current_password"] != "errors.field.required" {
			t.Fatalf("old session without current password: %v", err)
		}
		err = f.prof.ChangePassword(ctx, p, profile.PasswordChange{Current: "wrong-password", New: "another-long-one-88"})
		if fieldKeys(err)["current_password"] != "errors.field.password_wrong" {
			t.Fatalf("wrong current password: %v", err)
		}
		if err := f.prof.ChangePassword(ctx, p, profile.PasswordChange{Current: "marmalade-orbit-77", New: "pablo@example.com"}); fieldKeys(err)["new_password"] != "errors.field.password_is_email" {
			t.Fatalf("password equal to email: %v", err)
		}
		if err := f.prof.ChangePassword(ctx, p, profile.PasswordChange{Current: "marmalade-orbit-77", New: "password1"}); fieldKeys(err)["new_password"] != "errors.field.password_common" {
			t.Fatalf("common password: %v", err)
		}
		if err := f.prof.ChangePassword(ctx, p, profile.PasswordChange{Current: "marmalade-orbit-77", New: "another-long-one-88"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.signIn(ctx, auth.LoginInput{Email: "pablo@example.com", Password: "another-long-one-88"}); err != nil {
			t.Fatalf("new password does not sign in: %v", err)
		}
		// 2FA on: the current password is required even right after sign-in.
		f.setTwoFactor(t, f.plain.ID, true)
		fresh := f.session(t, f.plain.ID) // signed in just now (past the second step)
		if err := f.prof.ChangePassword(ctx, fresh, profile.PasswordChange{New: "third-password-99"}); fieldKeys(err)["current_password"] != "errors.field.required" {
			t.Fatalf("2FA on without current password: %v", err)
		}
		if err := f.prof.ChangePassword(ctx, fresh, profile.PasswordChange{Current: "another-long-one-88", New: "third-password-99"}); err != nil {
			t.Fatal(err)
		}
	})
}

func (f *fx) loginWith(t *testing.T, email, pw string) *auth.Principal {
	t.Helper()
	res, err := f.signIn(context.Background(), auth.LoginInput{Email: email, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.auth.Authenticate(context.Background(), res.Token, "")
	if err != nil {
		t.Fatal(err)
	}
	f.tokens[p.Session.ID] = res.Token
	return p
}

// tokenOf returns the token a test session was opened with (Roster keeps
// only hashes, so the fixture remembers them).
func tokenOf(t *testing.T, f *fx, p *auth.Principal) string {
	t.Helper()
	return f.tokens[p.Session.ID]
}

// setTwoFactor flips the flag the security issue will own.
func (f *fx) setTwoFactor(t *testing.T, userID int64, on bool) {
	t.Helper()
	ctx := context.Background()
	u, err := f.db.Reader().User(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	u.TwoFactorEnabled = on
	if err := f.db.Writer().UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if err := f.prof.SendPasswordReset(ctx, f.access, f.plain.ID, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin sent a reset: %v", err)
		}
		session := f.login(t, "pablo@example.com")
		if err := f.prof.SendPasswordReset(ctx, f.admin, f.plain.ID, ""); err != nil {
			t.Fatal(err)
		}
		m := f.mail.last("password_reset")
		if m == nil || m.To != "pablo@example.com" || m.Data["AdminName"] != "Ana" {
			t.Fatalf("reset mail: %+v", m)
		}
		token := strings.TrimPrefix(m.Data["Link"].(string), "https://roster.example/password/reset/")
		if _, err := f.prof.ResetPassword(ctx, token, "short", ""); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("weak reset: %v", err)
		}
		if _, err := f.prof.ResetPassword(ctx, token, "Pablo@example.com", ""); fieldKeys(err)["new_password"] != "errors.field.password_is_email" {
			t.Fatalf("reset to the email: %v", err)
		}
		if _, err := f.prof.ResetPassword(ctx, token, "brand-new-secret-1", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.auth.Authenticate(ctx, tokenOf(t, f, session), ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatal("sessions survived a reset")
		}
		if _, err := f.prof.ResetPassword(ctx, token, "brand-new-secret-2", ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("reset link used twice: %v", err)
		}
		if _, err := f.signIn(ctx, auth.LoginInput{Email: "pablo@example.com", Password: "brand-new-secret-1"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPhoto(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		buf := bytes.NewBuffer(pngOf(color.RGBA{200, 30, 30, 255}))
		p, err := f.prof.SetPhoto(ctx, f.plain, f.plain.ID, bytes.NewReader(buf.Bytes()))
		if err != nil || p.User.PhotoVersion == 0 {
			t.Fatalf("set photo: %v", err)
		}
		v1 := p.User.PhotoVersion
		rc, _, err := f.prof.Photos().OpenPhoto(ctx, f.plain.ID, v1, 128)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if _, err := f.prof.SetPhoto(ctx, f.plain, f.plain.ID, strings.NewReader("<html>not an image</html>")); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("html accepted: %v", err)
		}
		if again, _ := f.prof.Get(ctx, f.plain, f.plain.ID); again.User.PhotoVersion != v1 {
			t.Fatal("a refused upload changed the photo")
		}
		f.now = f.now.Add(time.Second)
		p, _ = f.prof.SetPhoto(ctx, f.plain, f.plain.ID, bytes.NewReader(buf.Bytes()))
		if p.User.PhotoVersion == v1 {
			t.Fatal("new photo kept the old version")
		}
		if _, _, err := f.prof.Photos().OpenPhoto(ctx, f.plain.ID, v1, 128); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("old version still stored: %v", err)
		}
		p, err = f.prof.RemovePhoto(ctx, f.plain, f.plain.ID)
		if err != nil || p.User.PhotoVersion != 0 {
			t.Fatalf("remove: %v", err)
		}
	})
}

// session opens a web session directly, as a completed sign-in does.
func (f *fx) session(t *testing.T, userID int64) *auth.Principal {
	t.Helper()
	ctx := context.Background()
	var token string
	err := f.db.InTx(ctx, func(q *store.Q) error {
		var err error
		token, _, err = f.auth.StartSession(ctx, q, userID, core.SessionWeb, "", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.auth.Authenticate(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}
	f.tokens[p.Session.ID] = token
	return p
}
