package notify

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"roster/internal/core"
	"roster/internal/i18n"
)

// FuzzEventData feeds arbitrary JSON as an event's data to every type's
// validation: it never panics, and what it accepts holds the promises the
// renderer and the pages rely on (a title of 1–200 characters of valid
// text, a url that is an absolute http(s) address, counts in range, enum
// values from the list), and renders in every language.
func FuzzEventData(f *testing.F) {
	for _, seed := range []string{
		`{"title":"Deal 42","url":"https://crm.example/deals/42"}`,
		`{"title":"x","source":"form"}`,
		`{"title":"x","minutes":3}`,
		`{"title":"x","url":"javascript:alert(1)"}`,
		`{"title":"","from":null}`,
		`{"title":"\u0000","days":-1.5}`,
		`{"title":["a"],"text":{"b":1}}`,
	} {
		for i := range catalogue {
			f.Add(seed, i)
		}
	}
	bundle, err := i18n.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string, which int) {
		if which < 0 {
			which = -which
		}
		typ := catalogue[which%len(catalogue)]
		d := json.NewDecoder(bytes.NewReader([]byte(raw)))
		d.UseNumber()
		var data map[string]any
		if err := d.Decode(&data); err != nil || data == nil {
			return
		}
		var v core.Invalid
		checkData(&v, "data.", typ, data)
		if v.Err() != nil {
			return
		}
		title, _ := data["title"].(string)
		if title == "" || utf8.RuneCountInString(title) > MaxTitle || !utf8.ValidString(title) {
			t.Fatalf("accepted title %q", title)
		}
		if s, ok := data["url"].(string); ok && s != "" {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("accepted url %q", s)
			}
		}
		for _, fl := range typ.Fields {
			switch fl.Kind {
			case Count:
				if n, ok := data[fl.Name].(int64); !ok || n < 0 || n > MaxCount {
					t.Fatalf("accepted count %s=%v", fl.Name, data[fl.Name])
				}
			case Enum:
				if !contains(fl.Values, data[fl.Name].(string)) {
					t.Fatalf("accepted %s=%v", fl.Name, data[fl.Name])
				}
			}
		}
		for _, lang := range i18n.Supported {
			r := Render(typ, data, bundle.Localizer(lang))
			if r.Title == "" || bytes.Contains([]byte(r.Title+r.Body), []byte("<no value>")) {
				t.Fatalf("%s in %s renders %+v", typ.Key, lang, r)
			}
		}
	})
}

// FuzzUnsubscribeToken: a one-click link's token from outside is refused
// unless it names a person and a type that can be turned off and carries
// their MAC; it never panics, and a token it accepts is the link it made
// for them (the MAC cannot be made without the key).
func FuzzUnsubscribeToken(f *testing.F) {
	mac := func(s string) []byte { return []byte("fuzz-mac-of:" + s + "0123456789abcdef") }
	s := &Service{mac: mac}
	good := UnsubscribeToken(mac, 42, "task.assigned")
	for _, seed := range []string{good, UnsubscribeToken(mac, 7, DigestKey), "", ".", "..", "42..", "-1.dGFzaw.x",
		"42.dGFzay5hc3NpZ25lZA." + strings.Repeat("A", 22), good + ".", "9223372036854775808.eA.eA", "0.dGFzaw.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		userID, typ, err := s.parseUnsubscribe(token)
		if err != nil {
			if userID != 0 || typ != nil {
				t.Fatalf("%q refused (%v) but gave user %d, type %v", token, err, userID, typ)
			}
			return
		}
		if userID <= 0 || typ == nil || typ.Mandatory {
			t.Fatalf("%q accepted for user %d, type %+v", token, userID, typ)
		}
		parts := strings.Split(token, ".")
		if parts[2] != unsubscribeMAC(mac, userID, typ.Key) {
			t.Fatalf("%q accepted without the MAC of user %d and %s", token, userID, typ.Key)
		}
	})
}
