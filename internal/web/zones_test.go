package web

import (
	"regexp"
	"strings"
	"testing"
)

// TestZoneOptions: exactly one option is selected, the person's; a zone
// not in the list comes first, selected; every zone is listed once.
func TestZoneOptions(t *testing.T) {
	for _, tz := range []string{"Asia/Tokyo", "UTC", timezones[len(timezones)-1], "America/Argentina/ComodRivadavia", `Bad<"zone>`} {
		got := zoneOptions(tz).String()
		if n := strings.Count(got, " selected>"); n != 1 {
			t.Errorf("%s: %d selected options", tz, n)
		}
		if strings.Contains(got, `<"`) {
			t.Errorf("%s: not escaped", tz)
		}
		if want := len(timezones); strings.Count(got, "<option") < want {
			t.Errorf("%s: %d options, want at least %d", tz, strings.Count(got, "<option"), want)
		}
	}
	// What a browser sends for each option: its value attribute, else its
	// text. Every zone of the list, once, and the one chosen.
	option := regexp.MustCompile(`<option(?: value="([^"]*)")?( selected)?>([^<]*)</option>`)
	for _, tz := range []string{"Asia/Tokyo", "Mars/Olympus"} {
		sent := map[string]int{}
		for _, m := range option.FindAllStringSubmatch(zoneOptions(tz).String(), -1) {
			v := m[3]
			if m[1] != "" {
				v = m[1]
			}
			sent[v]++
		}
		for _, z := range append([]string{tz}, timezones...) {
			if sent[z] != 1 {
				t.Errorf("%s: %s sent by %d options, want 1", tz, z, sent[z])
			}
		}
		if len(sent) != len(timezones)+1 && tz == "Mars/Olympus" || len(sent) != len(timezones) && tz == "Asia/Tokyo" {
			t.Errorf("%s: %d distinct options", tz, len(sent))
		}
	}
	if got := zoneOptions("").String(); strings.Contains(got, "selected") || strings.Count(got, "<option") != len(timezones) {
		t.Errorf("no zone chosen: %d options, selected: %v", strings.Count(got, "<option"), strings.Contains(got, "selected"))
	}
	if got := zoneOptions("Mars/Olympus").String(); !strings.HasPrefix(got, `<option value="Mars/Olympus" selected>`) {
		t.Errorf("an unknown zone is not first and selected: %.80s", got)
	}
}
