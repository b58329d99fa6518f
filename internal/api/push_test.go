package api

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

const testVAPIDKey = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"

// subscriptionJSON is a browser's PushSubscription.toJSON() for endpoint,
// with fresh keys.
func subscriptionJSON(t *testing.T, endpoint string) string {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return fmt.Sprintf(`{"endpoint":%q,"expirationTime":null,"keys":{"p256dh":%q,"auth":%q}}`, endpoint,
		base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(auth))
}

// TestPushSubscriptionsAPI: a browser's subscription as the browser gives
// it is recorded with its browser's name and never shown back; the same
// endpoint again keeps its one record; bad keys are 422 with translated
// field errors and store nothing; another person's or workspace's
// subscription is 404 and stays; the key is served to those signed in.
func TestPushSubscriptionsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: Deps{RatePerSecond: 1000, RateBurst: 1000, PushKey: testVAPIDKey}})
		e.user("Acme", "Bo", "bo@example.com", core.RoleUser)
		e.user("Globex", "Cy", "cy@globex.example", core.RoleAdmin)
		ada, bo, cy := e.login("ada@example.com"), e.login("bo@example.com"), e.login("cy@globex.example")

		if k := e.do("GET", "/push/vapid-public-key", "", bearer(bo)).status(200).json()["key"]; k != testVAPIDKey {
			t.Fatalf("key %v", k)
		}
		e.do("GET", "/push/vapid-public-key", "").problem(http.StatusUnauthorized)

		good := subscriptionJSON(t, "https://push.example.net/wpush/v2/ada-1")
		for _, c := range []struct {
			body   string
			fields []string
		}{
			{strings.Replace(good, "https://push.example.net", "ftp://push.example.net", 1), []string{"body.endpoint"}},
			{`{"endpoint":"","keys":{"p256dh":"","auth":""}}`, []string{"body.endpoint", "body.keys.p256dh", "body.keys.auth"}},
			{`{"endpoint":"https://push.example.net/x","keys":{"p256dh":"BAAA","auth":"AAAAAAAAAAAAAAAAAAAAAA"}}`, []string{"body.keys.p256dh"}},
		} {
			p := e.do("POST", "/me/push-subscriptions", c.body, bearer(ada), lang("es")).problem(http.StatusUnprocessableEntity)
			if len(p.Errors) != len(c.fields) {
				t.Fatalf("%s: %+v", c.body, p.Errors)
			}
			for i, f := range c.fields {
				if p.Errors[i].Location != f || p.Errors[i].Message == "" || strings.Contains(p.Errors[i].Message, "webpush.") {
					t.Errorf("%s: error %d is %+v, want %s", c.body, i, p.Errors[i], f)
				}
			}
		}
		if items := e.do("GET", "/me/push-subscriptions", "", bearer(ada)).status(200).json()["items"].([]any); len(items) != 0 {
			t.Fatalf("a refused subscription stored %v", items)
		}

		chrome := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
		sub := e.do("POST", "/me/push-subscriptions", good, bearer(ada), header("User-Agent", chrome)).status(http.StatusCreated).json()
		id := int64(sub["id"].(float64))
		if sub["browser"] != "Chrome" || sub["os"] != "Windows" || sub["last_used_at"] != nil || sub["endpoint"] != nil || sub["keys"] != nil {
			t.Fatalf("subscribed: %v", sub)
		}
		again := e.do("POST", "/me/push-subscriptions", good, bearer(ada), header("User-Agent", chrome)).status(http.StatusCreated).json()
		if int64(again["id"].(float64)) != id {
			t.Fatalf("the same endpoint made another record: %v", again)
		}
		bos := int64(e.do("POST", "/me/push-subscriptions", subscriptionJSON(t, "https://push.example.net/wpush/v2/bo"), bearer(bo)).status(201).json()["id"].(float64))
		cys := int64(e.do("POST", "/me/push-subscriptions", subscriptionJSON(t, "https://push.example.net/wpush/v2/cy"), bearer(cy)).status(201).json()["id"].(float64))
		// Whether a browser's subscription is the caller's: by its endpoint.
		found := e.do("POST", "/me/push-subscriptions:find", `{"endpoint":"https://push.example.net/wpush/v2/ada-1"}`, bearer(ada)).status(200).json()
		if int64(found["id"].(float64)) != id {
			t.Fatalf("find: %v", found)
		}
		e.do("POST", "/me/push-subscriptions:find", `{"endpoint":"https://push.example.net/wpush/v2/bo"}`, bearer(ada)).problem(http.StatusNotFound)
		e.do("POST", "/me/push-subscriptions:find", `{"endpoint":"https://push.example.net/wpush/v2/ada-1"}`, bearer(cy)).problem(http.StatusNotFound)
		items := e.do("GET", "/me/push-subscriptions", "", bearer(ada)).status(200).json()["items"].([]any)
		if len(items) != 1 || int64(items[0].(map[string]any)["id"].(float64)) != id {
			t.Fatalf("Ada's browsers: %v", items)
		}
		for _, other := range []int64{bos, cys} {
			e.do("DELETE", fmt.Sprintf("/me/push-subscriptions/%d", other), "", bearer(ada)).problem(http.StatusNotFound)
		}
		for _, tok := range []string{bo, cy} {
			if n := len(e.do("GET", "/me/push-subscriptions", "", bearer(tok)).json()["items"].([]any)); n != 1 {
				t.Fatalf("a browser of another person was removed: %d left", n)
			}
		}
		e.do("DELETE", fmt.Sprintf("/me/push-subscriptions/%d", id), "", bearer(ada)).status(http.StatusNoContent)
		e.do("DELETE", fmt.Sprintf("/me/push-subscriptions/%d", id), "", bearer(ada)).problem(http.StatusNotFound)
	})
}

// TestPushNotConfigured: without browser push the key and subscribing are
// 409 with a reason in the caller's language; listing still works.
func TestPushNotConfigured(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{deps: roomy})
	e.update(e.admin, func(u *core.User) { u.Language = "ru" })
	ada := e.login("ada@example.com")
	p := e.do("GET", "/push/vapid-public-key", "", bearer(ada)).problem(http.StatusConflict)
	if p.Detail != e.msg("ru", "push.not_configured", nil) || !strings.Contains(p.Detail, "браузере") {
		t.Fatalf("detail %q", p.Detail)
	}
	e.do("POST", "/me/push-subscriptions", subscriptionJSON(t, "https://push.example.net/x"), bearer(ada)).problem(http.StatusConflict)
	e.do("GET", "/me/push-subscriptions", "", bearer(ada)).status(200)
}
