package account_test

import (
	"context"
	"database/sql"
	"roster/internal/mail/mailtest"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/security"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

type sentMail struct {
	To, Lang, Template string
	Data               map[string]any
}

type fakeQueue struct{ sent []sentMail }

func (f *fakeQueue) EnqueueTx(_ context.Context, tx *sql.Tx, _ int64, to, lang, template string, data map[string]any) error {
	if tx == nil {
		panic("mail enqueued outside a transaction")
	}
	f.sent = append(f.sent, sentMail{to, lang, template, data})
	return mailtest.Check(template, data)
}

type fixture struct {
	db    *store.DB
	auth  *auth.Service
	acc   *account.Service
	sec   *security.Service
	mail  *fakeQueue
	admin *core.User
}

// newFixture builds the services on db as `roster serve` does, with mail
// going to f.mail.
func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, mail: &fakeQueue{}}
	set := servicetest.New(t, services.Config{DB: db, Mail: f.mail, BaseURL: "https://roster.example/"})
	f.auth, f.acc, f.sec = set.Auth, set.Accounts, set.Security
	return f
}

// setup builds the services and sets up the workspace Acme with its admin.
func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := newFixture(t, db)
	f.setupAdmin(t)
	return f
}

func (f *fixture) setupAdmin(t *testing.T) {
	t.Helper()
	res, err := f.acc.Setup(context.Background(), account.SetupInput{Workspace: "Acme", Timezone: "Europe/Istanbul", Language: "tr",
		Name: "Ayşe", Email: "Ayse@Example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = res.User
}

func (f *fixture) user(t *testing.T, email string, role core.Role, rights ...core.Right) *core.User {
	t.Helper()
	u, err := f.acc.CreateUser(context.Background(), account.CreateUserInput{Workspace: "Acme", Name: "User " + email,
		Email: email, Password: "tangerine-violin", Role: role, Rights: rights})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSetup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acc := f.acc
		if need, _ := acc.NeedsSetup(ctx); !need {
			t.Fatal("empty database needs no setup")
		}
		_, err := acc.Setup(ctx, account.SetupInput{Workspace: "", Timezone: "Mars/Base", Language: "xx", Name: "A",
			Email: "bad", Password: "short"})
		e := core.AsError(err)
		if e == nil || e.Code != core.EINVALID || len(e.Fields) != 5 {
			t.Fatalf("invalid setup: %+v", err)
		}
		if need, _ := acc.NeedsSetup(ctx); !need {
			t.Fatal("invalid setup changed something")
		}
		f.setupAdmin(t)
		if f.admin.Role != core.RoleAdmin || f.admin.Email != "ayse@example.com" || f.admin.Language != "tr" || f.admin.Timezone != "Europe/Istanbul" {
			t.Fatalf("admin: %+v", f.admin)
		}
		_, err = f.acc.Setup(ctx, account.SetupInput{Workspace: "Again", Name: "B", Email: "b@example.com", Password: "tangerine-violin"})
		if core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("second setup: %v", err)
		}
	})
}

func TestCreateUserFromCLI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acc := newFixture(t, db).acc
		first, err := acc.CreateUser(ctx, account.CreateUserInput{Workspace: "Beta", Name: "Bo", Email: "bo@beta.io", Password: "tangerine-violin", Role: core.RoleUser})
		if err != nil || first.Role != core.RoleAdmin {
			t.Fatalf("first user of a workspace must be admin: %+v %v", first, err)
		}
		second, err := acc.CreateUser(ctx, account.CreateUserInput{Workspace: "Beta", Name: "Cy", Email: "cy@beta.io", Password: "tangerine-violin",
			Role: core.RoleUser, Rights: []core.Right{core.RightProfileAccess}})
		if err != nil || second.Role != core.RoleUser || !second.HasRight(core.RightProfileAccess) || second.WorkspaceID != first.WorkspaceID {
			t.Fatalf("second: %+v %v", second, err)
		}
		_, err = acc.CreateUser(ctx, account.CreateUserInput{Workspace: "Gamma", Name: "Dup", Email: "BO@beta.io", Password: "tangerine-violin"})
		if e := core.AsError(err); e == nil || e.Fields[0].Key != "errors.field.email_taken" {
			t.Fatalf("duplicate email across workspaces: %v", err)
		}
		if _, err := db.Reader().WorkspaceByName(ctx, "Gamma"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatal("failed create left a workspace behind")
		}
	})
}

func TestInviteFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		inv, err := f.acc.Invite(ctx, f.admin, account.InviteInput{Email: "New@Example.com", Role: core.RoleUser, Rights: []core.Right{core.RightProfileAccess}})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.mail.sent) != 1 || f.mail.sent[0].To != "new@example.com" || f.mail.sent[0].Lang != "tr" || f.mail.sent[0].Template != "invite" {
			t.Fatalf("mail: %+v", f.mail.sent)
		}
		link := f.mail.sent[0].Data["Link"].(string)
		token, ok := strings.CutPrefix(link, "https://roster.example/invite/")
		if !ok {
			t.Fatalf("link %q", link)
		}
		if inv.ExpiresAt.Sub(inv.CreatedAt) != 7*24*time.Hour {
			t.Fatalf("invite lifetime %v", inv.ExpiresAt.Sub(inv.CreatedAt))
		}
		if _, _, err := f.acc.OpenInvite(ctx, "not-a-token"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("bad token: %v", err)
		}
		_, err = f.acc.AcceptInvite(ctx, account.AcceptInput{Token: token, Name: "Neo", Password: "password"})
		if core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("weak password accepted: %v", err)
		}
		res, err := f.acc.AcceptInvite(ctx, account.AcceptInput{Token: token, Name: "Neo", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		if res.User.Email != "new@example.com" || res.User.Role != core.RoleUser || !res.User.HasRight(core.RightProfileAccess) || res.Token == "" {
			t.Fatalf("accepted: %+v", res.User)
		}
		if _, err := f.acc.AcceptInvite(ctx, account.AcceptInput{Token: token, Name: "Neo2", Password: "tangerine-violin"}); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("invite used twice: %v", err)
		}
		// Inviting an address that has a user is refused.
		if _, err := f.acc.Invite(ctx, f.admin, account.InviteInput{Email: "new@example.com"}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("invite of existing user: %v", err)
		}
		// Only admins invite.
		if _, err := f.acc.Invite(ctx, res.User, account.InviteInput{Email: "x@example.com"}); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin invite: %v", err)
		}
	})
}

func TestPasswordEqualToEmailRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		isEmail := func(err error) bool {
			e := core.AsError(err)
			return e != nil && e.Code == core.EINVALID && len(e.Fields) == 1 && e.Fields[0].Field == "password" &&
				e.Fields[0].Key == "errors.field.password_is_email"
		}
		_, err := newFixture(t, db).acc.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ayşe", Email: "Ayse@Example.com", Password: "ayse@example.com"})
		if !isEmail(err) {
			t.Fatalf("setup: %+v", err)
		}
		f := setup(t, db)
		_, err = f.acc.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bo", Email: "bo@example.com", Password: "BO@example.com"})
		if !isEmail(err) {
			t.Fatalf("create user: %+v", err)
		}
		if _, err := f.acc.Invite(ctx, f.admin, account.InviteInput{Email: "new@example.com", Role: core.RoleUser}); err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(f.mail.sent[0].Data["Link"].(string), "https://roster.example/invite/")
		if _, err := f.acc.AcceptInvite(ctx, account.AcceptInput{Token: token, Name: "Neo", Password: "New@Example.com"}); !isEmail(err) {
			t.Fatalf("accept invite: %+v", err)
		}
	})
}

func TestExpiredInvite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		db.SetClock(func() time.Time { return now })
		f := setup(t, db)
		if _, err := f.acc.Invite(ctx, f.admin, account.InviteInput{Email: "late@example.com"}); err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(f.mail.sent[0].Data["Link"].(string), "https://roster.example/invite/")
		now = now.Add(7*24*time.Hour + time.Second)
		if _, err := f.acc.AcceptInvite(ctx, account.AcceptInput{Token: token, Name: "Late", Password: "tangerine-violin"}); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("expired invite accepted: %v", err)
		}
	})
}

func TestLastAdminStays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		_, err := f.acc.SetAccess(ctx, f.admin, f.admin.ID, account.AccessInput{Role: core.RoleUser})
		if e := core.AsError(err); e == nil || e.Key != "errors.last_admin" {
			t.Fatalf("demote last admin: %v", err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, f.admin.ID, core.StateInactive); core.AsError(err) == nil || core.AsError(err).Key != "errors.last_admin" {
			t.Fatalf("deactivate last admin: %v", err)
		}
		second := f.user(t, "second@example.com", core.RoleAdmin)
		if _, err := f.acc.SetAccess(ctx, f.admin, f.admin.ID, account.AccessInput{Role: core.RoleUser}); err != nil {
			t.Fatalf("demote with another admin: %v", err)
		}
		// Now the second admin is the last one.
		if _, err := f.acc.SetState(ctx, second, second.ID, core.StateInactive); core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("deactivate new last admin: %v", err)
		}
	})
}

func TestDeactivateRevokesSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		u := f.user(t, "sam@example.com", core.RoleUser)
		res, err := f.sec.SignIn(ctx, auth.LoginInput{Email: "sam@example.com", Password: "tangerine-violin"})
		if err != nil || res.LoginResult == nil {
			t.Fatalf("sign-in: %+v %v", res, err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, u.ID, core.StateInactive); err != nil {
			t.Fatal(err)
		}
		if _, err := f.auth.Authenticate(ctx, res.Token, ""); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("session survived deactivation: %v", err)
		}
		if _, err := f.sec.SignIn(ctx, auth.LoginInput{Email: "sam@example.com", Password: "tangerine-violin"}); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("inactive user signed in: %v", err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, u.ID, core.StateActive); err != nil {
			t.Fatal(err)
		}
		if res, err := f.sec.SignIn(ctx, auth.LoginInput{Email: "sam@example.com", Password: "tangerine-violin"}); err != nil || res.LoginResult == nil {
			t.Fatalf("reactivated user cannot sign in: %+v %v", res, err)
		}
	})
}

func TestVisibilityRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		plain := f.user(t, "plain@example.com", core.RoleUser)
		access := f.user(t, "access@example.com", core.RoleUser, core.RightProfileAccess)
		if _, _, err := f.acc.Users(ctx, plain, account.Page{}); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("plain user listed users: %v", err)
		}
		if _, total, err := f.acc.Users(ctx, access, account.Page{}); err != nil || total != 3 {
			t.Fatalf("profile access list: %d %v", total, err)
		}
		if _, err := f.acc.User(ctx, plain, f.admin.ID); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("plain user saw another: %v", err)
		}
		if u, err := f.acc.User(ctx, plain, plain.ID); err != nil || u.ID != plain.ID {
			t.Fatalf("own profile: %v", err)
		}
		if _, err := f.acc.SetAccess(ctx, access, plain.ID, account.AccessInput{Role: core.RoleAdmin}); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("profile access changed roles: %v", err)
		}
		other, err := f.acc.CreateUser(ctx, account.CreateUserInput{Workspace: "Other", Name: "O", Email: "o@other.io", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.acc.User(ctx, f.admin, other.ID); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("foreign user visible: %v", err)
		}
		if _, err := f.acc.SetState(ctx, f.admin, other.ID, core.StateInactive); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("foreign user changed: %v", err)
		}
	})
}
