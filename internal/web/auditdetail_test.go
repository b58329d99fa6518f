package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"roster/internal/account"
	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

var detailCellRE = regexp.MustCompile(`<td>([^<]*)</td>`)

// TestAuditDetailsTranslated: the Russian audit page shows the codes the
// domain records as details (how a sign-in completed, the method, on/off,
// roles and rights, "all others", a failed check) in Russian; the CSV
// export keeps them raw for machines.
func TestAuditDetailsTranslated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		ctx := context.Background()
		e := newEnv(t, db)
		ada := e.setup("ru")
		admin := e.login("ada@acme.test")
		bob := e.createUser("Acme", "Bob Builder", "bob@acme.test", core.RoleUser)
		if _, err := e.accounts.SetAccess(ctx, ada, bob.ID, account.AccessInput{Role: core.RoleUser, Rights: []core.Right{core.RightProfileAccess}}); err != nil {
			t.Fatal(err)
		}
		e.enableTOTP(admin, *now)
		wantRedirect(t, e.post("/settings/workspace-security/require", admin, url.Values{"require": {"on"}}),
			http.StatusSeeOther, "/settings/workspace-security?done=require_on")
		if w := e.post("/settings/security/sessions/revoke-others", admin, nil); w.Code != http.StatusSeeOther {
			t.Fatalf("sign out other sessions: %d", w.Code)
		}
		if err := e.auth.VerifyPassword(ctx, ada, "wrong password", "", "password"); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("wrong password: %v", err)
		}

		w := e.get("/settings/audit", admin)
		wantStatus(t, w, http.StatusOK)
		rows := auditRows(t, w)
		for _, want := range []string{
			"Создание рабочего пространства", // sign-in by setup
			"Приложение-аутентификатор",      // the method turned on
			"Пользователь → Пользователь (Доступ к профилям)",
			"Включена",             // mandatory two-step verification
			"Все остальные сеансы", // sessions signed out
			"Неверный пароль или код в настройках",
		} {
			if !strings.Contains(rows, want) {
				t.Errorf("the Russian audit page lacks %q", want)
			}
		}
		for _, m := range detailCellRE.FindAllStringSubmatch(rows, -1) {
			switch m[1] {
			case "setup", "password", "totp", "email", "backup_code", "invite", "on", "off", "all others", "ip_not_allowed", "code":
				t.Errorf("raw detail %q on the Russian audit page", m[1])
			}
			if strings.Contains(m[1], "profile-access") || strings.HasPrefix(m[1], "user") {
				t.Errorf("raw access detail %q on the Russian audit page", m[1])
			}
		}
		csv := e.get("/settings/audit.csv", admin).Body.String()
		for _, raw := range []string{`"setup"`, `"totp"`, `"on"`, `"all others"`, `"user → user (profile-access)"`, `"password"`} {
			if !strings.Contains(csv, raw) {
				t.Errorf("CSV lacks the raw detail %s", raw)
			}
		}
	})
}

// TestAuditDetailCodes: every detail code the domain records has a
// translation, and free text passes through.
func TestAuditDetailCodes(t *testing.T) {
	b, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	l := b.Localizer("ru")
	for _, c := range []struct {
		action      core.AuditAction
		detail, out string
	}{
		{core.AuditSignIn, "password", "Пароль"},
		{core.AuditSignIn, "totp", "Приложение-аутентификатор"},
		{core.AuditSignIn, "email", "Коды по почте"},
		{core.AuditSignIn, "backup_code", "Резервный код"},
		{core.AuditSignIn, "invite", "Приглашение"},
		{core.AuditSignIn, "setup", "Создание рабочего пространства"},
		{core.AuditSignInFailed, "ip_not_allowed", "IP-адрес не входит в список разрешённых"},
		{core.AuditSignInFailed, "", ""},
		{core.AuditTwoFactorEnabled, "email", "Коды по почте"},
		{core.AuditTwoFactorDisabled, "totp", "Приложение-аутентификатор"},
		{core.AuditReauthFailed, "code", "Код подтверждения"},
		{core.AuditSessionRevoked, "all others", "Все остальные сеансы"},
		{core.AuditSessionRevoked, "Chrome · Windows", "Chrome · Windows"},
		{core.AuditRequireTwoFactor, "on", "Включена"},
		{core.AuditRequireTwoFactor, "off", "Выключена"},
		{core.AuditInviteSent, "admin", "Администратор"},
		{core.AuditAccessChanged, "admin → user (profile-access)", "Администратор → Пользователь (Доступ к профилям)"},
		{core.AuditAccessChanged, "user (something-new)", "user (something-new)"},
		{core.AuditEmailChanged, "a@x.test → password", "a@x.test → password"},
		{core.AuditTokenCreated, "totp", "totp"}, // a token's name is free text
	} {
		if got := auditDetail(l, &core.AuditEntry{Action: c.action, Detail: c.detail}); got != c.out {
			t.Errorf("%s %q: %q, want %q", c.action, c.detail, got, c.out)
		}
	}
}
