package mail_test

import (
	"fmt"
	"strings"
	"testing"

	"roster/internal/i18n"
	"roster/internal/mail"
)

// hostileName is user-supplied text that must come out escaped in HTML.
const hostileName = `Ana "<b>" Silva`

const escapedName = `Ana &#34;&lt;b&gt;&#34; Silva`

// profileMail is one of the profile-settings mails with data as the
// callers send it.
type profileMail struct {
	name string
	data map[string]any
	// Data that must show in the text and HTML parts (the link is
	// checked separately because HTML escapes its "&").
	shown []string
	// The English subject, and a plural line for 24 hours, if any.
	subject, expiry string
	hasLink         bool
}

const profileLink = "https://roster.example/account/confirm?token=abc123&x=1"

func profileMails() []profileMail {
	return []profileMail{
		{
			name: "email_confirm",
			data: map[string]any{"Name": hostileName, "NewEmail": "ana.new@example.org",
				"Link": profileLink, "Hours": 24},
			shown:   []string{"ana.new@example.org"},
			subject: "Confirm your new email address for Roster",
			expiry:  "expires in 24 hours.",
			hasLink: true,
		},
		{
			name: "email_change_notice",
			data: map[string]any{"Name": hostileName, "OldEmail": "ana@example.org",
				"NewEmail": "ana.new@example.org"},
			shown:   []string{"ana@example.org", "ana.new@example.org"},
			subject: "Your Roster email address is being changed",
		},
		{
			name: "email_changed",
			data: map[string]any{"Name": hostileName, "OldEmail": "ana@example.org",
				"NewEmail": "ana.new@example.org", "Link": profileLink, "Days": 7},
			shown:   []string{"ana@example.org", "ana.new@example.org"},
			subject: "Your Roster email address was changed",
			expiry:  "expires in 7 days.",
			hasLink: true,
		},
		{
			name:    "password_changed",
			data:    map[string]any{"Name": hostileName},
			subject: "Your Roster password was changed",
		},
		{
			name: "password_reset",
			data: map[string]any{"Name": hostileName, "AdminName": `Bob <i>&</i> Admin`,
				"Link": profileLink, "Hours": 24},
			shown:   []string{"Bob"},
			subject: "Set a new password for Roster",
			expiry:  "expires in 24 hours.",
			hasLink: true,
		},
	}
}

// TestRenderProfileMailsWithCatalogs renders each profile mail with the
// real catalogs in every language.
func TestRenderProfileMailsWithCatalogs(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range profileMails() {
		for _, lang := range i18n.Supported {
			subject, text, html, err := mail.Render(m.name, bundle.Localizer(lang), lang, m.data)
			if err != nil {
				t.Fatalf("%s %s: %v", m.name, lang, err)
			}
			for part, s := range map[string]string{"subject": subject, "text": text, "html": html} {
				if rawKey.MatchString(s) || strings.Contains(s, "{{") || strings.Contains(s, "<no value>") {
					t.Errorf("%s %s %s: raw key or template syntax leaked:\n%s", m.name, lang, part, s)
				}
			}
			if subject == "" {
				t.Errorf("%s %s: empty subject", m.name, lang)
			}
			if strings.Contains(text, "\n\n\n") {
				t.Errorf("%s %s: text part has runs of blank lines:\n%s", m.name, lang, text)
			}
			if !strings.Contains(html, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: html lang attribute missing", m.name, lang)
			}
			if !strings.Contains(text, hostileName) {
				t.Errorf("%s %s: text part lacks the name:\n%s", m.name, lang, text)
			}
			if !strings.Contains(html, escapedName) || strings.Contains(html, "<b>") || strings.Contains(html, "<i>") {
				t.Errorf("%s %s: names are not HTML-escaped:\n%s", m.name, lang, html)
			}
			for _, want := range m.shown {
				if !strings.Contains(text, want) || !strings.Contains(html, want) {
					t.Errorf("%s %s: %q missing from a part:\n%s\n%s", m.name, lang, want, text, html)
				}
			}
			if m.hasLink {
				if !strings.Contains(text, "\n"+profileLink+"\n") {
					t.Errorf("%s %s: text part lacks the link:\n%s", m.name, lang, text)
				}
				if !strings.Contains(html, `href="https://roster.example/account/confirm?token=abc123&amp;x=1"`) {
					t.Errorf("%s %s: HTML part lacks the link:\n%s", m.name, lang, html)
				}
				n := fmt.Sprint(m.data["Hours"], m.data["Days"]) // one of them is set
				n = strings.Trim(strings.ReplaceAll(n, "<nil>", ""), " ")
				if !strings.Contains(text, n) || !strings.Contains(html, n) {
					t.Errorf("%s %s: expiry (%s) missing:\n%s", m.name, lang, n, text)
				}
			}
			if lang != "en" {
				continue
			}
			if subject != m.subject {
				t.Errorf("%s: subject = %q, want %q", m.name, subject, m.subject)
			}
			if !strings.Contains(text, "Hello Ana") {
				t.Errorf("%s: greeting missing:\n%s", m.name, text)
			}
			if m.expiry != "" && (!strings.Contains(text, m.expiry) || !strings.Contains(html, m.expiry)) {
				t.Errorf("%s: want %q in both parts:\n%s", m.name, m.expiry, text)
			}
		}
	}
}

// TestRenderProfileMailsPlurals checks the hour counts in the plural
// forms that differ most: English one/other and Russian one/few/many.
func TestRenderProfileMailsPlurals(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang  string
		hours int
		want  string
	}{
		{"en", 1, "expires in 1 hour."},
		{"en", 24, "expires in 24 hours."},
		{"ru", 1, "через 1 час."},
		{"ru", 21, "через 21 час."},
		{"ru", 24, "через 24 часа."},
		{"ru", 5, "через 5 часов."},
		{"es", 24, "caduca en 24 horas."},
		{"pt-BR", 1, "expira em 1 hora."},
		{"id", 24, "24 jam."},
		{"tr", 24, "24 saat sonra"},
	}
	for _, name := range []string{"email_confirm", "password_reset"} {
		for _, tt := range tests {
			d := map[string]any{"Name": "Ana", "NewEmail": "ana@example.org", "AdminName": "Bob",
				"Link": profileLink, "Hours": tt.hours}
			_, text, html, err := mail.Render(name, bundle.Localizer(tt.lang), tt.lang, d)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, tt.want) || !strings.Contains(html, tt.want) {
				t.Errorf("%s %s %d hours: want %q in both parts:\n%s", name, tt.lang, tt.hours, tt.want, text)
			}
		}
	}
}

// TestRenderProfileMailWithoutName falls back to a greeting without a name.
func TestRenderProfileMailWithoutName(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Supported {
		_, text, _, err := mail.Render("password_changed", bundle.Localizer(lang), lang, map[string]any{"Name": ""})
		if err != nil {
			t.Fatal(err)
		}
		if want := bundle.Localizer(lang).T("mail.greeting_plain"); !strings.Contains(text, fmt.Sprintln(want)) {
			t.Errorf("%s: want greeting %q:\n%s", lang, want, text)
		}
	}
}
