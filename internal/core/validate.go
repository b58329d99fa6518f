package core

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLen is the longest display name, in characters.
const MaxNameLen = 50

// NormalizeEmail trims, NFC-normalises and lower-cases an address and
// reports whether it is a plain valid address (no display name). Addresses
// compare case-insensitively everywhere, so this is the stored form.
func NormalizeEmail(s string) (string, bool) {
	s = strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
	if s == "" || len(s) > 254 {
		return s, false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return s, false
	}
	return s, true
}

// NormalizeName trims a display name and reports whether it has 1 to
// MaxNameLen characters and no control characters.
func NormalizeName(s string) (string, bool) {
	s = norm.NFC.String(strings.TrimSpace(s))
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxNameLen || !utf8.ValidString(s) {
		return s, false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return s, false
		}
	}
	return s, true
}

// ValidTimezone reports whether tz is an IANA zone name Go knows.
func ValidTimezone(tz string) bool {
	if tz == "" || tz == "Local" {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}
