package mail_test

import (
	"strings"
	"testing"
	"text/template"

	"roster/internal/i18n"
	"roster/internal/mail"
)

const securityCode = "482913"

// securityMail is one variant of a sign-in security mail with data as
// the callers send it.
type securityMail struct {
	label, name string
	data        map[string]any
	// Data that must show in the text and HTML parts.
	shown []string
	// Messages (without data) that must or must not show in both parts,
	// checked in every language against the real catalogs.
	want, notWant []string
	// The English subject.
	subject string
}

func securityMails() []securityMail {
	codeData := func(purpose string) map[string]any {
		return map[string]any{"Name": hostileName, "Code": securityCode, "Minutes": 10, "Purpose": purpose}
	}
	const (
		codeLogin     = "mail.two_factor_code.login"
		codeLoginWarn = "mail.two_factor_code.login_not_you"
		codeEnable    = "mail.two_factor_code.enable"
	)
	return []securityMail{
		{
			label: "code login", name: "two_factor_code", data: codeData("login"),
			shown:   []string{securityCode},
			want:    []string{codeLogin, codeLoginWarn, "mail.two_factor_code.never_share"},
			notWant: []string{codeEnable},
			subject: securityCode + " is your Roster verification code",
		},
		{
			label: "code enable", name: "two_factor_code", data: codeData("enable"),
			shown:   []string{securityCode},
			want:    []string{codeEnable, "mail.two_factor_code.never_share"},
			notWant: []string{codeLogin, codeLoginWarn},
			subject: securityCode + " is your Roster verification code",
		},
		{
			label: "enabled totp", name: "two_factor_enabled",
			data:    map[string]any{"Name": hostileName, "Method": "totp"},
			want:    []string{"mail.two_factor_enabled.body_totp", "mail.two_factor_enabled.signed_out", "mail.two_factor_enabled.backup_codes", "mail.two_factor.not_you"},
			notWant: []string{"mail.two_factor_enabled.body_email"},
			subject: "Two-step verification is on",
		},
		{
			label: "enabled email", name: "two_factor_enabled",
			data:    map[string]any{"Name": hostileName, "Method": "email"},
			want:    []string{"mail.two_factor_enabled.body_email", "mail.two_factor_enabled.signed_out", "mail.two_factor_enabled.backup_codes"},
			notWant: []string{"mail.two_factor_enabled.body_totp"},
			subject: "Two-step verification is on",
		},
		{
			label: "disabled one", name: "two_factor_disabled",
			data:    map[string]any{"Name": hostileName, "Method": "totp", "AllOff": false},
			want:    []string{"mail.two_factor_disabled.body_totp", "mail.two_factor.not_you"},
			notWant: []string{"mail.two_factor_disabled.all_off", "mail.two_factor_disabled.body_email"},
			subject: "Two-step verification was changed",
		},
		{
			label: "disabled all", name: "two_factor_disabled",
			data:    map[string]any{"Name": hostileName, "Method": "email", "AllOff": true},
			want:    []string{"mail.two_factor_disabled.body_email", "mail.two_factor_disabled.all_off", "mail.two_factor.not_you"},
			notWant: []string{"mail.two_factor_disabled.body_totp"},
			subject: "Two-step verification was changed",
		},
		{
			label: "reset", name: "two_factor_reset",
			data:    map[string]any{"Name": hostileName, "AdminName": `Bob <i>&</i> Admin`},
			shown:   []string{"Bob"},
			want:    []string{"mail.two_factor_reset.next"},
			notWant: []string{"mail.two_factor_reset.body_plain"},
			subject: "Your two-step verification was reset",
		},
		{
			label: "reset no admin name", name: "two_factor_reset",
			data:    map[string]any{"Name": hostileName, "AdminName": ""},
			want:    []string{"mail.two_factor_reset.body_plain", "mail.two_factor_reset.next"},
			subject: "Your two-step verification was reset",
		},
		{
			label: "new device", name: "new_device",
			data: map[string]any{"Name": hostileName, "Device": "Chrome · Windows",
				"IP": "203.0.113.7", "Time": "2 May 2025, 14:03 UTC"},
			shown:   []string{"Chrome · Windows", "203.0.113.7", "2 May 2025, 14:03 UTC"},
			want:    []string{"mail.new_device.body", "mail.new_device.device", "mail.new_device.ip", "mail.new_device.time", "mail.new_device.if_you", "mail.new_device.not_you"},
			notWant: []string{"mail.new_device.unknown_device"},
			subject: "New sign-in to Roster",
		},
		{
			label: "new device unknown", name: "new_device",
			data:    map[string]any{"Name": hostileName, "Device": "", "IP": "203.0.113.7", "Time": "2 May 2025, 14:03 UTC"},
			shown:   []string{"203.0.113.7"},
			want:    []string{"mail.new_device.unknown_device"},
			subject: "New sign-in to Roster",
		},
	}
}

// TestRenderSecurityMailsWithCatalogs renders each sign-in security mail
// with the real catalogs in every language.
func TestRenderSecurityMailsWithCatalogs(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range securityMails() {
		for _, lang := range i18n.Supported {
			loc := bundle.Localizer(lang)
			subject, text, html, err := mail.Render(m.name, loc, lang, m.data)
			if err != nil {
				t.Fatalf("%s %s: %v", m.label, lang, err)
			}
			for part, s := range map[string]string{"subject": subject, "text": text, "html": html} {
				if rawKey.MatchString(s) || strings.Contains(s, "{{") || strings.Contains(s, "<no value>") {
					t.Errorf("%s %s %s: raw key or template syntax leaked:\n%s", m.label, lang, part, s)
				}
			}
			if subject == "" {
				t.Errorf("%s %s: empty subject", m.label, lang)
			}
			if strings.Contains(text, "\n\n\n") {
				t.Errorf("%s %s: text part has runs of blank lines:\n%s", m.label, lang, text)
			}
			if !strings.Contains(html, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: html lang attribute missing", m.label, lang)
			}
			if !strings.Contains(text, hostileName) {
				t.Errorf("%s %s: text part lacks the name:\n%s", m.label, lang, text)
			}
			if !strings.Contains(html, escapedName) || strings.Contains(html, "<b>") || strings.Contains(html, "<i>") {
				t.Errorf("%s %s: names are not HTML-escaped:\n%s", m.label, lang, html)
			}
			for _, want := range m.shown {
				if !strings.Contains(text, want) || !strings.Contains(html, want) {
					t.Errorf("%s %s: %q missing from a part:\n%s\n%s", m.label, lang, want, text, html)
				}
			}
			for _, key := range m.want {
				msg := loc.T(key)
				if !strings.Contains(text, msg) || !strings.Contains(html, template.HTMLEscapeString(msg)) {
					t.Errorf("%s %s: %s (%q) missing from a part:\n%s\n%s", m.label, lang, key, msg, text, html)
				}
			}
			for _, key := range m.notWant {
				if msg := loc.T(key); strings.Contains(text, msg) || strings.Contains(html, template.HTMLEscapeString(msg)) {
					t.Errorf("%s %s: %s (%q) must not show:\n%s", m.label, lang, key, msg, text)
				}
			}
			if lang != "en" {
				continue
			}
			if subject != m.subject {
				t.Errorf("%s: subject = %q, want %q", m.label, subject, m.subject)
			}
			if !strings.Contains(text, "Hello Ana") {
				t.Errorf("%s: greeting missing:\n%s", m.label, text)
			}
		}
	}
}

// TestRenderTwoFactorCodeShowsCode checks that the code is in the subject
// and both parts in every language, and that the HTML shows it large in
// a monospace font.
func TestRenderTwoFactorCodeShowsCode(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Supported {
		d := map[string]any{"Name": "Ana", "Code": securityCode, "Minutes": 10, "Purpose": "login"}
		subject, text, html, err := mail.Render("two_factor_code", bundle.Localizer(lang), lang, d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(subject, securityCode) {
			t.Errorf("%s: subject lacks the code: %q", lang, subject)
		}
		if !strings.Contains(text, "\n    "+securityCode+"\n") {
			t.Errorf("%s: text part lacks the code on its own line:\n%s", lang, text)
		}
		if !strings.Contains(html, "monospace") || !strings.Contains(html, ">"+securityCode+"</span>") {
			t.Errorf("%s: HTML part lacks the code in monospace:\n%s", lang, html)
		}
	}
}

// TestRenderTwoFactorCodePlurals checks the minute counts in the plural
// forms that differ most: English one/other and Russian one/few/many.
func TestRenderTwoFactorCodePlurals(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang    string
		minutes int
		want    string
	}{
		{"en", 1, "valid for 1 minute."},
		{"en", 10, "valid for 10 minutes."},
		{"ru", 1, "действует 1 минуту."},
		{"ru", 3, "действует 3 минуты."},
		{"ru", 10, "действует 10 минут."},
		{"ru", 21, "действует 21 минуту."},
		{"es", 10, "durante 10 minutos."},
		{"pt-BR", 1, "por 1 minuto."},
		{"id", 10, "selama 10 menit."},
		{"tr", 10, "10 dakika boyunca"},
	}
	for _, tt := range tests {
		d := map[string]any{"Name": "Ana", "Code": securityCode, "Minutes": tt.minutes, "Purpose": "enable"}
		_, text, html, err := mail.Render("two_factor_code", bundle.Localizer(tt.lang), tt.lang, d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.want) || !strings.Contains(html, tt.want) {
			t.Errorf("%s %d minutes: want %q in both parts:\n%s", tt.lang, tt.minutes, tt.want, text)
		}
	}
}
