package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/photo"
	"roster/internal/store"
)

// maxAnswer bounds the answer to any oversized input: a refusal must not
// be an amplifier (10,000 bad entries answered with 10,000 errors).
const maxAnswer = 64 << 10

// TestOversizedInputs sends the real server, in one place, every kind of
// oversized input it takes: bodies over the limit (JSON, photo, form),
// 10,000-element arrays and maps in every field that holds a list,
// JSON nested 10,000 deep, and decompression bombs of each supported
// image format through the API and the page. Each is refused with its
// status and a translated message in a short answer, and nothing changes.
// Elsewhere: trickled bodies (TestTrickledBodyIsCut), 1,000 streams from
// one token (api TestThousandStreamsFromOneToken), bombs' memory (photo
// TestBombDoesNotAllocate), decode budget (photo TestParallelUploadsMemoryBound).
func TestOversizedInputs(t *testing.T) {
	r := start(t, store.SQLite, app.Config{APIRate: 1e6, APIBurst: 1_000_000})
	setup := setupAna(t, r, "en")
	token, _ := newToken(t, r, setup.User)
	cookie := newSession(t, r, setup.User)
	me := setup.User.ID

	many := func(n int, item func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = item(i)
		}
		return strings.Join(parts, ",")
	}
	ids := func(n int) string {
		return "[" + many(n, func(i int) string { return fmt.Sprint(me + int64(i)) }) + "]"
	}
	types := func(n int) string {
		return "{" + many(n, func(i int) string { return fmt.Sprintf(`"type.%d":{"email":true}`, i) }) + "}"
	}
	event := fmt.Sprintf(`{"type":"mention","recipients":[%d],"data":{"from":"Ada","title":"Hi"}}`, me)

	type apiCase struct {
		name, method, path, contentType string
		body                            []byte
		status                          int
		says                            string // in the answer
	}
	cases := []apiCase{
		{"JSON body over 1 MiB", "POST", "/api/v1/events", "application/json",
			[]byte(`{"type":"mention","data":{"title":"` + strings.Repeat("x", 1<<20) + `"}}`), 413, "too large"},
		{"10,001 recipients", "POST", "/api/v1/events", "application/json",
			fmt.Appendf(nil, `{"type":"mention","recipients":%s,"data":{"from":"Ada","title":"Hi"}}`, ids(10_001)), 422, "10000"},
		{"10,000 events in a batch", "POST", "/api/v1/events:batch", "application/json",
			[]byte(`{"events":[` + many(10_000, func(int) string { return event }) + `]}`), 422, "500"},
		{"10,000 quiet hours", "PUT", "/api/v1/me/notification-settings", "application/json",
			[]byte(`{"quiet_hours":[` + many(10_000, func(i int) string { return `{"day":1,"from":"22:00","to":"07:00"}` }) + `]}`), 422, "quiet"},
		{"10,000 event types in my settings", "PUT", "/api/v1/me/notification-settings", "application/json",
			[]byte(`{"types":` + types(10_000) + `}`), 422, "There is no event type"},
		{"10,000 event types in the defaults", "PUT", "/api/v1/workspace/notification-defaults", "application/json",
			[]byte(`{"types":` + types(10_000) + `}`), 422, "There is no event type"},
		{"10,000 allowlist entries", "PUT", "/api/v1/workspace/security/ip-allowlist", "application/json",
			[]byte(`{"entries":[` + many(10_000, func(i int) string { return fmt.Sprintf(`"10.%d.%d.0/24"`, i/256, i%256) }) + `]}`), 422, "1000"},
		{"JSON nested 10,000 deep", "PATCH", "/api/v1/me", "application/json",
			[]byte(`{"name":` + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + `}`), 400, "not valid JSON"},
		{"photo over 10 MB", "PUT", "/api/v1/me/photo", "image/png",
			append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, photo.MaxUploadBytes)...), 413, "too large"},
	}
	formats := make([]string, 0, 4)
	for f := range photo.Bombs() {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	for _, f := range formats {
		cases = append(cases, apiCase{"a " + f + " bomb", "PUT", "/api/v1/me/photo", "image/" + f, photo.Bombs()[f], 422, "40 megapixels"})
	}

	before := snapshot(t, r)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, r.URL+c.path, bytes.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", c.contentType)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body bytes.Buffer
			n, _ := body.ReadFrom(http.MaxBytesReader(nil, res.Body, maxAnswer+1))
			if res.StatusCode != c.status || n > maxAnswer || !strings.Contains(body.String(), c.says) {
				t.Fatalf("%d (%d bytes): %.400s; want %d saying %q in at most %d bytes", res.StatusCode, n, body.String(), c.status, c.says, maxAnswer)
			}
			var problem struct {
				Detail string
				Errors []json.RawMessage
			}
			if err := json.Unmarshal(body.Bytes(), &problem); err != nil || problem.Detail == "" || len(problem.Errors) > core.MaxFieldErrors {
				t.Fatalf("not a problem with a detail and at most %d errors: %v %.300s", core.MaxFieldErrors, err, body.String())
			}
		})
	}

	// The page: a form over its limit, a bomb of each format.
	page := func(contentType string, body []byte) (int, string) {
		req, _ := http.NewRequest("POST", r.URL+"/settings/profile"+map[bool]string{true: "/photo"}[strings.HasPrefix(contentType, "multipart")],
			bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.AddCookie(&http.Cookie{Name: "roster_session", Value: cookie})
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	if status, body := page("application/x-www-form-urlencoded", []byte(url.Values{"name": {strings.Repeat("x", 2<<20)}}.Encode())); status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MB form: %d %.200s", status, body)
	}
	for _, f := range formats {
		var mp bytes.Buffer
		fmt.Fprintf(&mp, "--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"me.%s\"\r\nContent-Type: image/%s\r\n\r\n", f, f)
		mp.Write(photo.Bombs()[f])
		mp.WriteString("\r\n--b--\r\n")
		if status, body := page("multipart/form-data; boundary=b", mp.Bytes()); status != http.StatusUnprocessableEntity || !strings.Contains(body, "40 megapixels") {
			t.Errorf("a %s bomb through the page: %d %.300s", f, status, body)
		}
	}
	if after := snapshot(t, r); after != before {
		t.Fatalf("oversized inputs changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot is what an oversized input could have changed: the events,
// the person's row, their settings and the workspace's defaults and
// allowlist.
func snapshot(t *testing.T, r *running) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT COUNT(*) FROM notify_events",
		"SELECT name || '|' || photo_version || '|' || updated_at FROM users WHERE id = 1",
		"SELECT COUNT(*) FROM notify_prefs",
		"SELECT COALESCE(MAX(quiet_hours), '') FROM notify_settings",
		"SELECT COALESCE(ip_allowlist, '') FROM workspaces WHERE id = 1",
	} {
		var v string
		if err := r.DB.R.QueryRow(q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fmt.Fprintf(&b, "%s; ", v)
	}
	return b.String()
}
