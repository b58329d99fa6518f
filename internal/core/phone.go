package core

import (
	"slices"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Phone error keys.
const (
	PhoneInvalidKey   = "errors.field.phone_invalid"
	PhoneExtensionKey = "errors.field.phone_extension"
)

// NormalizePhone reads a phone number as a person types it, using region
// (ISO 3166-1, e.g. "ES") for numbers without a country code, and returns
// it in E.164 ("+34612345678"). Empty input is valid and clears the number.
func NormalizePhone(s, region string) (string, bool) {
	e164, key := CheckPhone(s, region)
	return e164, key == ""
}

// CheckPhone is NormalizePhone with the error key when the input is
// refused. A number with an extension ("ext. 12", ";ext=12") is refused
// rather than stored without it: E.164 has no extension, the stored number
// feeds tel: links, and dropping the extension silently would route calls
// to the switchboard while the user believes it was saved.
func CheckPhone(s, region string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if len(s) > 64 {
		return "", PhoneInvalidKey
	}
	num, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", PhoneInvalidKey
	}
	if num.GetExtension() != "" {
		return "", PhoneExtensionKey
	}
	return phonenumbers.Format(num, phonenumbers.E164), ""
}

// FormatPhone shows a stored E.164 number in international format
// ("+34 612 34 56 78"); anything unparsable is returned as is.
func FormatPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	formatted.RLock()
	s, ok := formatted.m[e164]
	formatted.RUnlock()
	if ok {
		return s
	}
	s = e164
	if num, err := phonenumbers.Parse(e164, ""); err == nil {
		s = phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	}
	formatted.Lock()
	if len(formatted.m) >= maxFormatted {
		clear(formatted.m)
	}
	formatted.m[e164] = s
	formatted.Unlock()
	return s
}

// formatted keeps numbers already formatted: formatting parses with the
// phone library's metadata, which was a sixteenth of a profile page's
// time, and a number formats the same every time. It is emptied when
// full, so numbers that keep changing cannot grow it without bound.
var formatted = struct {
	sync.RWMutex
	m map[string]string
}{m: make(map[string]string)}

var maxFormatted = 20_000

// ValidRegion reports whether region is an ISO 3166-1 code the phone
// library knows.
func ValidRegion(region string) bool {
	_, ok := phonenumbers.GetSupportedRegions()[strings.ToUpper(region)]
	return ok
}

// RegionForLanguage is the default phone region of a new workspace, from
// its language: a guess the admin can change.
func RegionForLanguage(lang string) string {
	switch lang {
	case "es":
		return "ES"
	case "pt-BR":
		return "BR"
	case "id":
		return "ID"
	case "tr":
		return "TR"
	case "ru":
		return "RU"
	}
	return "US"
}

// Regions lists every ISO 3166-1 region the phone library knows, sorted.
func Regions() []string {
	var out []string
	for r := range phonenumbers.GetSupportedRegions() {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}
