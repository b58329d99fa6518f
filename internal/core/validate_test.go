package core

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{" Ana.Ruiz@Example.COM ", "ana.ruiz@example.com", true},
		{"ana+crm@example.co.uk", "ana+crm@example.co.uk", true},
		{"", "", false},
		{"ana", "ana", false},
		{"ana@localhost", "ana@localhost", false},
		{"Ana <ana@example.com>", "", false},
		{"ana@@example.com", "", false},
		{strings.Repeat("a", 250) + "@x.io", "", false},
	}
	for _, c := range cases {
		got, ok := NormalizeEmail(c.in)
		if ok != c.ok || (c.ok && got != c.want) {
			t.Errorf("NormalizeEmail(%q) = %q, %v", c.in, got, ok)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	cases := map[string]bool{
		"  Ana Ruiz ":             true,
		"Łukasz Żółć":             true,
		"Иван Петров":             true,
		"":                        false,
		"   ":                     false,
		"bad\x00name":             false,
		"tab\tname":               false,
		"line\u2028sep":           false,
		strings.Repeat("я", 50):   true,
		strings.Repeat("я", 51):   false,
		string([]byte{0xff, 'a'}): false,
		"Ana\u200bRuiz":           false,
		"Ana \u202etxt.exe":       false,
		"\ufeffAna":               false,
		"Ana\u2060":               false,
		"...":                     false,
		"\u0301":                  false,
		"李小龍":                     true,
		"O'Brien-Smith":           true,
		"R2-D2":                   true,
		"١٢٣":                     true,
	}
	for in, want := range cases {
		if _, ok := NormalizeName(in); ok != want {
			t.Errorf("NormalizeName(%q) ok = %v, want %v", in, ok, want)
		}
	}
	for in, key := range map[string]string{"": NameInvalidKey, "a\u202eb": NameInvisibleKey, "\u200b": NameInvisibleKey, "- -": NameNoLetterKey, "Ana": ""} {
		if _, got := CheckName(in); got != key {
			t.Errorf("CheckName(%q) key = %q, want %q", in, got, key)
		}
	}
	if got, _ := NormalizeName("  Ana  "); got != "Ana" {
		t.Errorf("not trimmed: %q", got)
	}
}

func TestValidTimezone(t *testing.T) {
	for tz, want := range map[string]bool{"Europe/Moscow": true, "America/Sao_Paulo": true, "UTC": true, "Local": false, "": false, "Mars/Base": false} {
		if ValidTimezone(tz) != want {
			t.Errorf("ValidTimezone(%q) != %v", tz, want)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	var v Invalid
	if v.Err() != nil {
		t.Fatal("empty Invalid is an error")
	}
	v.Add("email", "errors.field.email_invalid", nil)
	err := v.Err()
	if ErrorCode(err) != EINVALID || !v.Has("email") || v.Has("name") {
		t.Fatalf("invalid: %v", err)
	}
	if ErrorCode(nil) != "" || ErrorCode(errors.ErrUnsupported) != EINTERNAL {
		t.Fatal("codes of nil and plain errors")
	}
}
