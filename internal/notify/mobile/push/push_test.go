package push

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestCutKeepsCharactersWhole: a cut never splits a UTF-8 sequence, a
// letter from its combining accent, an emoji ZWJ sequence or a flag's
// pair of regional indicators, and ends with the ellipsis.
func TestCutKeepsCharactersWhole(t *testing.T) {
	family := "👩‍👩‍👧‍👦" // 4 emoji joined by 3 ZWJs: 25 bytes, one character
	spain, ukraine := "🇪🇸", "🇺🇦"
	eAcute := "e\u0301" // e + combining acute: one character, 3 bytes
	for _, c := range []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short enough", "Привет", 12, "Привет"},
		{"cyrillic", "Привет, мир", 9, "При…"},      // 3 letters × 2 bytes + 3 of the ellipsis
		{"cyrillic odd", "Привет, мир", 10, "При…"}, // one byte more is half a letter
		{"zwj family kept", "ab" + family + "cdef", 2 + 25 + 3, "ab" + family + "…"},
		{"zwj family not split", "ab" + family + "cdef", 2 + 24 + 3, "ab…"},
		{"flags", spain + ukraine + spain, 8 + 3, spain + "…"},
		{"flag not halved", spain + ukraine, 4 + 3 + 4, spain + "…"},
		{"combining accent", "caf" + eAcute + "s bar", 3 + 2 + 3, "caf…"},
		{"combining accent kept", "caf" + eAcute + "s bar", 3 + 3 + 3, "caf" + eAcute + "…"},
		{"space before ellipsis dropped", "hello world", 9, "hello…"},
		{"hangul jamo", "\u1100\u1161\u11A8\u1100\u1161", 9 + 3, "\u1100\u1161\u11A8…"},
		{"no room", "hello", 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Cut(c.in, c.max)
			if got != c.want {
				t.Fatalf("Cut(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			if len(got) > c.max && got != c.in {
				t.Fatalf("%q is %d bytes, over %d", got, len(got), c.max)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("%q is not valid UTF-8", got)
			}
		})
	}
}

// TestFitMakesPayloadsFit: a long body in every script is cut so the
// encoded payload fits 4 KB, escaping included, and the title is cut only
// when the body is gone.
func TestFitMakesPayloadsFit(t *testing.T) {
	encode := func(title, body string) int {
		b, _ := json.Marshal(map[string]any{"aps": map[string]any{"alert": map[string]string{"title": title, "body": body}}})
		return len(b)
	}
	for name, unit := range map[string]string{"ascii": "a", "quotes": `"\`, "cyrillic": "ж", "emoji": "👩‍👩‍👧‍👦", "flags": "🇪🇸", "control": "\x01"} {
		body := strings.Repeat(unit, 5000)
		title, got, err := Fit("Title", body, MaxPayload, encode)
		if err != nil {
			t.Fatal(err)
		}
		if n := encode(title, got); n > MaxPayload || n < MaxPayload-64 {
			t.Errorf("%s: payload is %d bytes", name, n)
		}
		if title != "Title" || !strings.HasSuffix(got, Ellipsis) || !strings.HasPrefix(body, strings.TrimSuffix(got, Ellipsis)) {
			t.Errorf("%s: title %q, body ends %q", name, title, got[max(0, len(got)-20):])
		}
		if rest := strings.TrimSuffix(got, Ellipsis); len(rest)%len(unit) != 0 {
			t.Errorf("%s: cut inside a character: %d bytes", name, len(rest))
		}
	}
	title, body, err := Fit(strings.Repeat("т", 3000), "short", MaxPayload, encode)
	if err != nil || body != "" || encode(title, body) > MaxPayload || !strings.HasSuffix(title, Ellipsis) {
		t.Fatalf("long title: %d bytes, body %q, %v", encode(title, body), body, err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "7": 7 * time.Second, "soon": 0, "-3": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second, now.Add(-time.Hour).Format(http.TimeFormat): 0} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := RetryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}
