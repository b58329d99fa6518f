package web

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

var statusBadgeRE = regexp.MustCompile(`<span class="status status-(?:on|off)">(?:<svg[^>]*>.*?</svg>)?([^<]*)</span>`)

// TestOnOffBadgesAgree: each on/off badge agrees with its noun, in
// Russian, Spanish and Portuguese: two-step verification (feminine), the
// authenticator app (ru neuter, pt masculine), email codes (plural), and
// mandatory two-step verification.
func TestOnOffBadgesAgree(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := fixedClock(db)
		e := newEnv(t, db)
		e.setup("en")
		type forms struct{ twoFactorOn, appOff, emailOn, appOn, emailOff, requireOff string }
		for lang, want := range map[string]forms{
			"ru":    {"Включена", "Выключено", "Включены", "Включено", "Выключены", "Выключена"},
			"es":    {"Activada", "Desactivada", "Activados", "Activada", "Desactivados", "Desactivada"},
			"pt-BR": {"Ativada", "Desativado", "Ativados", "Ativado", "Desativados", "Desativada"},
		} {
			// One user with email codes on, one with the app on.
			for i, method := range []core.TwoFactorMethod{core.MethodEmail, core.MethodTOTP} {
				email := fmt.Sprintf("%s-%d@acme.test", lang, i)
				u := e.createUser("Acme", "User "+lang, email, core.RoleAdmin)
				e.update(u, func(u *core.User) { u.Language = lang })
				c := e.login(email)
				if method == core.MethodEmail {
					e.enableEmailCodes(c)
				} else {
					e.enableTOTP(c, *now)
				}
				w := e.get("/settings/security", c)
				wantStatus(t, w, http.StatusOK)
				got := pageBadges(w.Body.String())
				exp := []string{want.twoFactorOn, want.appOff, want.emailOn}
				if method == core.MethodTOTP {
					exp = []string{want.twoFactorOn, want.appOn, want.emailOff}
				}
				slices.Sort(exp)
				if !slices.Equal(got, exp) {
					t.Errorf("%s, %s on: security page badges %q, want %q", lang, method, got, exp)
				}
				// The profile says two-step verification is on (feminine),
				// and so does the Users filter's word for it.
				if got := pageBadges(e.get("/settings/profile", c).Body.String()); !slices.Equal(got, []string{want.twoFactorOn}) {
					t.Errorf("%s profile badges %q, want %q", lang, got, want.twoFactorOn)
				}
				if i == 0 {
					// The filter is about two-step verification, feminine like requireOff.
					wantContains(t, e.get("/settings/users", c), ">"+want.twoFactorOn+"</a>", ">"+want.requireOff+"</a>")
					if got := pageBadges(e.get("/settings/workspace-security", c).Body.String()); !slices.Equal(got, []string{want.requireOff}) {
						t.Errorf("%s workspace security badges %q, want %q", lang, got, want.requireOff)
					}
				}
			}
		}
	})
}

// pageBadges returns the texts of a page's on/off badges, sorted.
func pageBadges(body string) []string {
	var out []string
	for _, m := range statusBadgeRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}
