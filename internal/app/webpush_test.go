package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/notify/webpush/webpushtest"
	"roster/internal/profile"
	"roster/internal/store"
)

// TestWebPushEndToEnd: a browser subscribes through the API; an event
// posted with an API token reaches the local push service with a VAPID
// token it verifies and a body it decrypts to the notification in the
// person's language. The service busy (429 with Retry-After), then fine,
// gives exactly one message and a delivery sent on the second attempt; a
// payload refused as too large (413) fails the delivery, visible to
// admins; the subscription gone (410) is removed, and the next event skips
// the channel.
func TestWebPushEndToEnd(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		svc := webpushtest.NewService(t)
		r := start(t, engine, app.Config{BrowserPush: true, PushSubject: "mailto:ops@example.com",
			PushAllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		setup := setupAna(t, r, "en")
		bea, err := r.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bea", Email: "bea@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		pt := "pt-BR"
		if _, err := r.Profiles.Update(ctx, bea, bea.ID, profile.Changes{Language: &pt}, ""); err != nil {
			t.Fatal(err)
		}
		token, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		status, body := apiCall(t, r, "POST", "/auth/login", "", `{"email":"bea@example.com","password":"tangerine-violin"}`)
		var login struct{ Token string }
		if status != http.StatusOK || json.Unmarshal(body, &login) != nil || login.Token == "" {
			t.Fatalf("login: %d %s", status, body)
		}
		// The key the browser subscribes with is the one Roster signs with.
		status, body = apiCall(t, r, "GET", "/push/vapid-public-key", login.Token, "")
		if status != http.StatusOK || !strings.Contains(string(body), r.WebPush.PublicKey()) {
			t.Fatalf("key: %d %s", status, body)
		}
		sub := svc.NewSubscription()
		status, body = apiCall(t, r, "POST", "/me/push-subscriptions", login.Token,
			fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}`, sub.Endpoint, sub.P256dh, sub.Auth))
		if status != http.StatusCreated {
			t.Fatalf("subscribe: %d %s", status, body)
		}
		status, body = apiCall(t, r, "GET", "/me/notification-settings", login.Token, "")
		if status != http.StatusOK || !strings.Contains(string(body), `{"channel":"browser","usable":true}`) {
			t.Fatalf("settings: %s", body)
		}

		event := func(title string) {
			postEvent(t, r, token, fmt.Sprintf(`{"type":"lead.incoming","recipients":[%d],"data":{"title":%q,"source":"form","url":"https://crm.example/leads/7"}}`, bea.ID, title))
		}
		count := func(title string) int {
			n := 0
			for _, p := range svc.Accepted(sub.Endpoint) {
				if strings.Contains(string(p.Payload), title) {
					n++
				}
			}
			return n
		}

		event("Globex")
		if d := settledDelivery(t, r, bea, "browser", 1); d.Status != core.DeliverySent || d.Attempts != 1 {
			t.Fatalf("first: %+v", d)
		}
		got := svc.Accepted(sub.Endpoint)
		if len(got) != 1 {
			t.Fatalf("%d pushes", len(got))
		}
		var payload struct{ Title, Body, URL, Lang string }
		if err := json.Unmarshal(got[0].Payload, &payload); err != nil || payload.Title != "Novo lead: Globex" ||
			payload.URL != "https://crm.example/leads/7" || payload.Lang != "pt-BR" {
			t.Fatalf("payload %s (%v)", got[0].Payload, err)
		}
		if got[0].Claims["sub"] != "mailto:ops@example.com" {
			t.Errorf("VAPID sub %v", got[0].Claims["sub"])
		}

		// Busy, then fine: one message, sent on the second attempt.
		svc.Fail(sub.Endpoint, http.StatusTooManyRequests, "1")
		event("Initech")
		if d := settledDelivery(t, r, bea, "browser", 2); d.Status != core.DeliverySent || d.Attempts != 2 {
			t.Fatalf("after busy: %+v", d)
		}
		if n := count("Initech"); n != 1 {
			t.Fatalf("after busy: %d messages", n)
		}

		// Too large for the service: failed, shown to admins.
		svc.Fail(sub.Endpoint, http.StatusRequestEntityTooLarge, "")
		event("Umbrella")
		if d := settledDelivery(t, r, bea, "browser", 3); d.Status != core.DeliveryFailed || !strings.Contains(d.LastError, "413") {
			t.Fatalf("refused: %+v", d)
		}
		status, body = apiCall(t, r, "GET", fmt.Sprintf("/users/%d/deliveries", bea.ID), token, "")
		if status != http.StatusOK || !strings.Contains(string(body), `"status":"failed"`) || strings.Contains(string(body), sub.Endpoint) {
			t.Fatalf("deliveries: %d %s", status, body)
		}

		// Gone: the subscription is removed; the next event skips.
		svc.Gone(sub.Endpoint)
		event("Hooli")
		if d := settledDelivery(t, r, bea, "browser", 4); d.Status != core.DeliveryFailed {
			t.Fatalf("gone: %+v", d)
		}
		if status, body := apiCall(t, r, "GET", "/me/push-subscriptions", login.Token, ""); status != http.StatusOK || !strings.Contains(string(body), `"items":[]`) {
			t.Fatalf("subscriptions after gone: %s", body)
		}
		event("Stark")
		if d := settledDelivery(t, r, bea, "browser", 5); d.Status != core.DeliverySkipped || d.Reason != "channel_unavailable" {
			t.Fatalf("no subscription: %+v", d)
		}
		if v := svc.Violations(); len(v) > 0 {
			t.Fatalf("violations %v", v)
		}
		// Subscribed in a session, it ends with the session: signing out
		// stops the pushes.
		again := svc.NewSubscription()
		if status, body := apiCall(t, r, "POST", "/me/push-subscriptions", login.Token,
			fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}`, again.Endpoint, again.P256dh, again.Auth)); status != http.StatusCreated {
			t.Fatalf("subscribe again: %d %s", status, body)
		}
		if status, body := apiCall(t, r, "POST", "/auth/logout", login.Token, ""); status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", status, body)
		}
		if list, err := r.Push.List(ctx, bea); err != nil || len(list) != 0 {
			t.Fatalf("after sign-out: %+v %v", list, err)
		}
	})
}

// TestWebPushOff: with --browser-push=false the channel is shown as not
// configured, and subscribing is refused with 409.
func TestWebPushOff(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	setup := setupAna(t, r, "en")
	status, body := apiCall(t, r, "GET", "/me/notification-settings", setup.Token, "")
	if status != http.StatusOK || !strings.Contains(string(body), `"channel":"browser","usable":false,"reason":"not_configured"`) {
		t.Fatalf("settings: %s", body)
	}
	if status, _ := apiCall(t, r, "GET", "/push/vapid-public-key", setup.Token, ""); status != http.StatusConflict {
		t.Fatalf("key without browser push: %d", status)
	}
}
