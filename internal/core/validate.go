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

// NormalizeName trims a display name and reports whether CheckName accepts
// it.
func NormalizeName(s string) (string, bool) {
	name, key := CheckName(s)
	return name, key == ""
}

// Name error keys, one per reason, so the form can say what is wrong.
const (
	NameInvalidKey   = "errors.field.name_invalid"         // empty, too long, control characters
	NameInvisibleKey = "errors.field.name_invisible_chars" // format characters (Cf)
	NameNoLetterKey  = "errors.field.name_no_letter"       // only punctuation, symbols or marks
)

// CheckName trims and NFC-normalises a display name and returns it with ""
// when it has 1 to MaxNameLen characters, no control or format characters
// and at least one letter or digit; otherwise it returns the error key.
// Format characters (category Cf: U+200B zero width space, U+202E
// right-to-left override, U+FEFF, ...) are refused because they make a
// name look like another one or reorder the text around it.
func CheckName(s string) (string, string) {
	s = norm.NFC.String(strings.TrimSpace(s))
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxNameLen || !utf8.ValidString(s) {
		return s, NameInvalidKey
	}
	letter := false
	for _, r := range s {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return s, NameInvalidKey
		case unicode.Is(unicode.Cf, r):
			return s, NameInvisibleKey
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			letter = true
		}
	}
	if !letter {
		return s, NameNoLetterKey
	}
	return s, ""
}

// ValidTimezone reports whether tz is an IANA zone name Go knows.
func ValidTimezone(tz string) bool {
	if tz == "" || tz == "Local" {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}
