package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"roster/internal/auth"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// FuzzRouteBodies sends any body, and any Last-Event-ID, to any API route
// as the workspace's admin (a fresh token each time: a route may revoke
// its caller's): no answer is a 5xx, none hangs past its deadline. It
// covers every route's JSON decoding, huma's validation behind it, the
// unknown-key check, and the stream's resume point.
func FuzzRouteBodies(f *testing.F) {
	e := newEnv(f, storetest.Open(f, store.SQLite), envOpts{deps: Deps{RatePerSecond: 1e9, RateBurst: 1 << 30}})
	routes := e.api.routes
	for i := range routes {
		for _, body := range []string{`{}`, `null`, `[]`, `{"name":"Bea","a":1}`, `{"name":` + strings.Repeat("[", 500), `"x"`,
			`{"events":[` + strings.Repeat(`{},`, 300) + `{}]}`, "\xff\xfe"} {
			f.Add(uint16(i), []byte(body), "")
		}
	}
	f.Add(uint16(0), []byte(nil), "18446744073709551616")
	f.Add(uint16(0), []byte(nil), "-1")
	f.Fuzz(func(t *testing.T, which uint16, body []byte, lastEventID string) {
		rt := routes[int(which)%len(routes)]
		path := strings.NewReplacer("{id}", "1", "{method}", "totp", "{version}", "1", "{size}", "48").Replace(rt.op.Path)
		token, made, err := e.auth.CreateAPIToken(context.Background(), e.admin, "fuzz", auth.MinTokenTTL)
		if err != nil {
			t.Fatal(err)
		}
		// Revoked after (a person may hold only so many); the route may
		// have revoked it already.
		defer func() { _ = e.auth.RevokeAPIToken(context.Background(), e.admin, made.ID) }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, strings.ToUpper(rt.op.Method), e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if lastEventID != "" && strings.IndexFunc(lastEventID, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) < 0 {
			req.Header.Set("Last-Event-ID", lastEventID)
		}
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s with %q: %v", rt.pattern(), body, err)
		}
		defer res.Body.Close()
		if res.StatusCode >= 500 {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("%s with %q: %d %s", rt.pattern(), body, res.StatusCode, b)
		}
	})
}

// FuzzDuplicateKey: the byte scanner that reads valid bodies finds the
// same duplicate member, at the same path, as json.Decoder's tokens, for
// any bytes.
func FuzzDuplicateKey(f *testing.F) {
	for _, seed := range []string{`{"name":"a","NAME":"b"}`, `{"a":{"x":1,"x":2}}`, `{"b":[{"x":1},{"x":1,"y":[1,{"x":0}],"x":3}]}`,
		`{"n\u0061me":1,"name":2}`, `{"\u00c4":1,"ä":2}`, `[{"k":1},{"k":2}]`, `{"a":1}{"a":2}`, `{"a":1,"a":2`, "{\"\xff\":1,\"\xfe\":2}",
		manyKeys(20, "k3"), `{"type":"task.assigned","recipients":[1],"data":{"title":"Call Bea","from":"Ada"}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, dup := duplicateKey(b)
		want, wantDup := duplicateKeyByTokens(b)
		if got != want || dup != wantDup {
			t.Fatalf("%q: scanner %q %v, tokens %q %v", b, got, dup, want, wantDup)
		}
	})
}

// BenchmarkDuplicateKey: the check on the body of a posted event, by the
// scanner and by tokens.
//
//	go test -run '^$' -bench DuplicateKey ./internal/api/
func BenchmarkDuplicateKey(b *testing.B) {
	body := []byte(`{"type":"task.assigned","recipients":[1],"data":{"title":"Call Bea","from":"Ada"}}`)
	for _, c := range []struct {
		name  string
		check func([]byte) (string, bool)
	}{{"scanner", duplicateKey}, {"tokens", duplicateKeyByTokens}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, dup := c.check(body); dup {
					b.Fatal("duplicate")
				}
			}
		})
	}
}
