package apns

import (
	"net/http"
	"testing"
	"unicode/utf8"

	"roster/internal/notify/mobile/push"
)

// FuzzClassify feeds APNs error answers (any status, any bytes) to
// classify: it never panics; only a 410, or a 400 BadDeviceToken, is a
// dead token, and only a 410 carries when it died; a 429, a 5xx or a 403
// (our provider token) is never permanent; the reason is text.
func FuzzClassify(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{410, `{"reason":"Unregistered","timestamp":1700000000000}`}, {400, `{"reason":"BadDeviceToken"}`},
		{429, `{"reason":"TooManyRequests"}`}, {403, `{"reason":"ExpiredProviderToken"}`}, {413, `{"reason":"PayloadTooLarge"}`},
		{500, `garbage`}, {410, `{"timestamp":-5}`}, {410, `{"timestamp":9223372036854775807}`}, {200, ``},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, status int, answer []byte) {
		e := classify(status, answer)
		if e == nil || e.Status != status || !utf8.ValidString(e.Reason) {
			t.Fatalf("classify(%d, %q) = %+v", status, answer, e)
		}
		dead := status == http.StatusGone || status == http.StatusBadRequest && e.Reason == "BadDeviceToken"
		if (e.Kind == push.Dead) != dead {
			t.Fatalf("classify(%d, %q): kind %v", status, answer, e.Kind)
		}
		if !e.Since.IsZero() && status != http.StatusGone {
			t.Fatalf("classify(%d, %q): died at %s", status, answer, e.Since)
		}
		if (status == http.StatusTooManyRequests || status >= 500 || status == http.StatusForbidden) && e.Kind == push.Permanent {
			t.Fatalf("classify(%d, %q): permanent", status, answer)
		}
	})
}
