package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
	"roster/internal/photo"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestDuplicateKey(t *testing.T) {
	cases := map[string]string{
		`{"name":"a","phone":"1"}`:                                 "",
		`{"name":"a","name":"b"}`:                                  "name",
		`{"name":"a","NAME":"b"}`:                                  "NAME",
		`{"a":{"x":1,"y":{"x":2}},"b":[{"x":1}]}`:                  "",
		`{"a":{"x":1,"x":2}}`:                                      "a.x",
		`{"b":[{"x":1},{"x":1,"y":[1,{"x":0}],"x":3}]}`:            "b.x",
		`[{"k":1},{"k":2}]`:                                        "",
		`{"a":"x","b":"x"`:                                         "", // invalid: huma's to report
		`{"a":1}{"a":2}`:                                           "",
		`{"a":1,"a":2`:                                             "a", // met before the syntax error
		`{"n\u0061me":1,"name":2}`:                                 "name",
		`{"Ä":1,"ä":2}`:                                            "ä",
		`{"a\"b":1,"a\\b":2,"c":[1,"x]}",{}],"A\"B":3}`:            `A"B`,
		` [ 1 , { "x" : null , "y" : [ true , -1.5e3 ] } , "}" ] `: "",
		`{"a":{"b":{"c":[[{"d":1,"D":2}]]}}}`:                      "a.b.c.D",
		manyKeys(40, "k39"):                                        "k39",
		manyKeys(40, ""):                                           "",
	}
	for in, want := range cases {
		got, dup := duplicateKey([]byte(in))
		if dup != (want != "") || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, dup, want)
		}
	}
}

// manyKeys is an object of n members k0 … k(n-1), then again one named
// again when it is not "".
func manyKeys(n int, again string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if again != "" {
		fmt.Fprintf(&b, `%q:0,`, again)
	}
	b.WriteString(`"end":0}`)
	return b.String()
}

// TestDuplicateJSONKeysRefused: a body naming a member twice is 422 at
// that member, and nothing changes.
func TestDuplicateJSONKeysRefused(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{})
	for _, body := range []string{`{"name":"Eve One","name":"Ada Admin"}`, `{"name":"Eve One","Name":"Ada Admin"}`} {
		p := e.do("PATCH", "/me", body, bearer(e.adminSession)).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || !strings.EqualFold(p.Errors[0].Location, "body.name") ||
			p.Errors[0].Message != e.msg("en", keyFieldDuplicate, nil) {
			t.Fatalf("%s: %+v", body, p)
		}
	}
	if me := e.do("GET", "/me", "", bearer(e.adminSession)).status(http.StatusOK).json(); me["name"] != "Ada Admin" {
		t.Fatalf("name after refused bodies: %v", me["name"])
	}
	e.do("PATCH", "/me", `{"name":"Eve One"}`, bearer(e.adminSession)).status(http.StatusOK)
}

// TestPhotoWrongContentType: a photo sent as JSON is told what the photo
// routes take, not to send JSON.
func TestPhotoWrongContentType(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{})
	p := e.do("PUT", "/me/photo", `{"photo":"x"}`, bearer(e.adminSession)).problem(http.StatusUnsupportedMediaType)
	if !strings.Contains(p.Detail, "image/jpeg") || strings.Contains(p.Detail, "send application/json") {
		t.Fatalf("detail %q", p.Detail)
	}
}

// TestLogoutCookieSecureUnderHTTPS: the cookie the API clears carries the
// same flags as the one pages set, Secure included under https.
func TestLogoutCookieSecureUnderHTTPS(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{deps: Deps{SecureCookies: true}})
	r := e.do("POST", "/auth/logout", "", cookie(e.adminSession), header("Sec-Fetch-Site", "same-origin")).status(http.StatusNoContent)
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{"Max-Age=0", "HttpOnly", "Secure", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
}

// TestBusyIs503: "busy, retry" from the domain (every photo decode slot
// taken) is 503 with Retry-After and its translated detail.
func TestBusyIs503(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{})
	err := e.api.fail(context.Background(), &core.Error{Code: core.EUNAVAILABLE, Key: photo.KeyBusy, RetryAfter: 5 * time.Second})
	var m *huma.ErrorModel
	var he huma.HeadersError
	if !errors.As(err, &m) || m.Status != http.StatusServiceUnavailable || m.Detail != e.msg("en", photo.KeyBusy, nil) {
		t.Fatalf("problem %+v", m)
	}
	if !errors.As(err, &he) || he.GetHeaders().Get("Retry-After") != "5" {
		t.Fatalf("headers of %v", err)
	}
}
