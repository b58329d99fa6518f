package web

import (
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
	if got := zoneOptions("Mars/Olympus").String(); !strings.HasPrefix(got, `<option value="Mars/Olympus" selected>`) {
		t.Errorf("an unknown zone is not first and selected: %.80s", got)
	}
}
