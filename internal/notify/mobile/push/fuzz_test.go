package push

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzRetryAfter reads any Retry-After value: never negative nor past
// MaxRetryAfter, zero for what is neither a positive count of seconds
// nor a future HTTP date. (It found 9227000000 seconds overflowing into a
// negative wait, and "\u00851" read as one second because every Unicode
// space was trimmed, not only HTTP's space and tab.)
func FuzzRetryAfter(f *testing.F) {
	for _, seed := range []string{"", "0", "1", "120", "-5", " 30 ", "1e3", "99999999999999999999",
		"Wed, 21 Oct 2037 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "soon"} {
		f.Add(seed)
	}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("Retry-After", v)
		d := RetryAfter(h, now)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("Retry-After %q: %s", v, d)
		}
		if d > 0 {
			ows := strings.Trim(v, " \t")
			if _, err := http.ParseTime(ows); err != nil && !isSeconds(ows) {
				t.Fatalf("Retry-After %q read as %s", v, d)
			}
		}
	})
}

// isSeconds says whether v is a decimal count, optionally signed.
func isSeconds(v string) bool {
	if v == "" {
		return false
	}
	for i, c := range v {
		if (c < '0' || c > '9') && !(i == 0 && (c == '+' || c == '-')) {
			return false
		}
	}
	return true
}
