package fcm

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"roster/internal/notify/mobile/push"
)

// FuzzClassify feeds FCM's error answers (any status, any bytes) to
// classify: it never panics; UNREGISTERED is the only dead token; a 429
// or a 5xx is never permanent (the delivery waits and retries); the
// reason is text.
func FuzzClassify(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{404, `{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`},
		{429, `{"error":{"status":"RESOURCE_EXHAUSTED","details":[{"errorCode":"QUOTA_EXCEEDED"}]}}`},
		{503, `{"error":{"status":"UNAVAILABLE","message":"try later"}}`},
		{400, `{"error":{"status":"INVALID_ARGUMENT","message":"bad"}}`},
		{401, ``}, {500, `not json`}, {200, `{}`}, {418, `{"error":{"details":[{"errorCode":null}]}}`},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, status int, answer []byte) {
		e := classify(status, answer)
		if e == nil || e.Status != status || !utf8.ValidString(e.Reason) {
			t.Fatalf("classify(%d, %q) = %+v", status, answer, e)
		}
		if e.Kind == push.Dead && !strings.HasPrefix(e.Reason, "UNREGISTERED") {
			t.Fatalf("classify(%d, %q): dead without UNREGISTERED", status, answer)
		}
		if (status == http.StatusTooManyRequests || status >= 500) && e.Kind == push.Permanent {
			t.Fatalf("classify(%d, %q): a %d is permanent", status, answer, status)
		}
	})
}
