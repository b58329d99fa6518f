package mail_test

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"roster/internal/i18n"
	"roster/internal/mail"
)

// stubTranslator stands in for the i18n package: a few messages in one
// language, with one/few/many/other plural forms.
type stubTranslator struct {
	msgs   map[string]string
	plural map[string]map[string]string
	form   func(n int) string
}

func (s stubTranslator) render(key, src string, data []map[string]any) string {
	d := map[string]any{}
	for _, m := range data {
		maps.Copy(d, m)
	}
	var b strings.Builder
	if err := template.Must(template.New(key).Parse(src)).Execute(&b, d); err != nil {
		return key
	}
	return b.String()
}

func (s stubTranslator) T(key string, data ...map[string]any) string {
	src, ok := s.msgs[key]
	if !ok {
		return key
	}
	return s.render(key, src, data)
}

func (s stubTranslator) N(key string, count int, data ...map[string]any) string {
	forms, ok := s.plural[key]
	if !ok {
		return key
	}
	return s.render(key, forms[s.form(count)], append(data, map[string]any{"Count": count}))
}

var stubEN = stubTranslator{
	msgs: map[string]string{
		"mail.footer":           "You receive this email because someone uses Roster with this address.",
		"mail.invite.subject":   "{{.Inviter}} invited you to {{.Workspace}} on Roster",
		"mail.invite.greeting":  "Hello,",
		"mail.invite.body":      "{{.Inviter}} invited you to join the {{.Workspace}} workspace on Roster.",
		"mail.invite.button":    "Accept invitation",
		"mail.invite.link_hint": "If the button does not work, copy this link into your browser:",
		"mail.invite.ignore":    "If you were not expecting this invitation, you can ignore this email.",
	},
	plural: map[string]map[string]string{"mail.invite.expiry": {
		"one":   "This link works once and expires in {{.Count}} day.",
		"other": "This link works once and expires in {{.Count}} days.",
	}},
	form: func(n int) string {
		if n == 1 {
			return "one"
		}
		return "other"
	},
}

var stubRU = stubTranslator{
	msgs: map[string]string{
		"mail.footer":           "Вы получили это письмо, потому что кто-то использует Roster с этим адресом.",
		"mail.invite.subject":   "{{.Inviter}} приглашает вас присоединиться к {{.Workspace}} в Roster",
		"mail.invite.greeting":  "Здравствуйте!",
		"mail.invite.body":      "{{.Inviter}} приглашает вас присоединиться к рабочему пространству {{.Workspace}} в Roster.",
		"mail.invite.button":    "Принять приглашение",
		"mail.invite.link_hint": "Если кнопка не работает, скопируйте эту ссылку в браузер:",
		"mail.invite.ignore":    "Если вы не ждали этого приглашения, просто проигнорируйте это письмо.",
	},
	plural: map[string]map[string]string{"mail.invite.expiry": {
		"one":  "Ссылка действует один раз и истекает через {{.Count}} день.",
		"few":  "Ссылка действует один раз и истекает через {{.Count}} дня.",
		"many": "Ссылка действует один раз и истекает через {{.Count}} дней.",
	}},
	form: func(n int) string {
		switch {
		case n%10 == 1 && n%100 != 11:
			return "one"
		case n%10 >= 2 && n%10 <= 4 && (n%100 < 12 || n%100 > 14):
			return "few"
		default:
			return "many"
		}
	},
}

func inviteData(days int) map[string]any {
	return map[string]any{
		"InviterName": `Ana "<b>" Silva`,
		"Workspace":   "Acme & Co",
		"Link":        "https://roster.example/invite/accept?token=abc123&x=1",
		"ExpiresDays": days,
	}
}

func TestRenderInviteEnglish(t *testing.T) {
	subject, text, html, err := mail.Render("invite", stubEN, "en", inviteData(7))
	if err != nil {
		t.Fatal(err)
	}
	if want := `Ana "<b>" Silva invited you to Acme & Co on Roster`; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	for _, want := range []string{
		"Roster\n",
		"Hello,\n",
		`Ana "<b>" Silva invited you to join the Acme & Co workspace on Roster.`,
		"Accept invitation:\nhttps://roster.example/invite/accept?token=abc123&x=1\n",
		"expires in 7 days.",
		"You receive this email because",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\n\n\n") {
		t.Errorf("text part has runs of blank lines:\n%s", text)
	}
	for _, want := range []string{
		`<html lang="en">`,
		// User-supplied names are escaped in HTML.
		`Ana &#34;&lt;b&gt;&#34; Silva invited you to join the Acme &amp; Co workspace`,
		`href="https://roster.example/invite/accept?token=abc123&amp;x=1"`,
		">Accept invitation</a>",
		"expires in 7 days.",
		"You receive this email because",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<b>") {
		t.Error("HTML part contains unescaped user input")
	}

	_, text, _, err = mail.Render("invite", stubEN, "en", inviteData(1))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "expires in 1 day.") {
		t.Errorf("singular form missing:\n%s", text)
	}
}

func TestRenderInviteRussian(t *testing.T) {
	for days, want := range map[int]string{1: "1 день", 3: "3 дня", 7: "7 дней", 21: "21 день"} {
		subject, text, html, err := mail.Render("invite", stubRU, "ru", inviteData(days))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(subject, `Ana "<b>" Silva приглашает вас`) {
			t.Errorf("subject = %q", subject)
		}
		if !strings.Contains(text, "через "+want+".") || !strings.Contains(html, "через "+want+".") {
			t.Errorf("%d days: want %q in both parts:\n%s", days, want, text)
		}
		if !strings.Contains(html, `<html lang="ru">`) || !strings.Contains(html, "Принять приглашение") {
			t.Errorf("HTML part is not Russian:\n%s", html)
		}
	}
}

func TestRenderRejectsHostileLink(t *testing.T) {
	d := inviteData(7)
	d["Link"] = "javascript:alert(1)"
	_, _, html, err := mail.Render("invite", stubEN, "en", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, `href="javascript:`) {
		t.Fatal("javascript: URL reached an href")
	}
}

func TestRenderUnknownTemplate(t *testing.T) {
	if _, _, _, err := mail.Render("no-such-mail", stubEN, "en", nil); err == nil {
		t.Fatal("unknown template rendered")
	}
}

// rawKey matches a message ID such as mail.invite.body (but not "email.").
var rawKey = regexp.MustCompile(`\bmail\.[a-z_]+`)

// TestRenderWithCatalogs renders every mail with the real catalogs in every
// language and checks that no message key or template syntax leaks.
func TestRenderWithCatalogs(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Supported {
		for _, days := range []int{1, 2, 5, 7, 21} {
			tr := bundle.Localizer(lang)
			subject, text, html, err := mail.Render("invite", tr, lang, inviteData(days))
			if err != nil {
				t.Fatalf("%s: %v", lang, err)
			}
			for part, s := range map[string]string{"subject": subject, "text": text, "html": html} {
				if rawKey.MatchString(s) || strings.Contains(s, "{{") || strings.Contains(s, "<no value>") {
					t.Errorf("%s %s, %d days: raw key or template syntax leaked:\n%s", lang, part, days, s)
				}
			}
			if !strings.Contains(text, fmt.Sprint(days)) || !strings.Contains(subject, "Acme & Co") {
				t.Errorf("%s: data missing:\nsubject %s\n%s", lang, subject, text)
			}
			if !strings.Contains(html, `lang="`+lang+`"`) {
				t.Errorf("%s: html lang attribute missing", lang)
			}
		}
	}
	// The English catalog must say what the stub says, so the stub tests
	// check real wording.
	en := bundle.Localizer("en")
	for key, want := range stubEN.msgs {
		if got := en.T(key, map[string]any{"Inviter": "{{.Inviter}}", "Workspace": "{{.Workspace}}"}); got != want {
			t.Errorf("catalog %s = %q, stub has %q", key, got, want)
		}
	}
}
