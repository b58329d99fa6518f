package app_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/notify/mobile"
	"roster/internal/notify/mobile/pushtest"
	"roster/internal/store"
)

const (
	e2eAndroidToken = "ZTJl:APA91bGx7Ew0a-kq3_l6fN1uJt2H9sY3cV1dQ8pP5oR4mZ0wX6yB7nA9sD2fG4hJ6kL8z"
	e2eAPNsToken    = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
)

// apiCall sends a JSON request to the running app's API.
func apiCall(t *testing.T, r *running, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, r.URL+"/api/v1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// mobileSettings writes the key files of the local push servers and
// returns the settings pointing at them, as an operator's flags would.
func mobileSettings(t *testing.T, f *pushtest.FCM, a *pushtest.APNs) mobile.Settings {
	t.Helper()
	dir := t.TempDir()
	creds, key := filepath.Join(dir, "service-account.json"), filepath.Join(dir, "AuthKey.p8")
	if err := os.WriteFile(creds, f.Credentials, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, a.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(f.Cert)
	pool.AddCert(a.Cert)
	return mobile.Settings{FCMCredentials: creds, FCMEndpoint: f.URL, APNsKey: key, APNsKeyID: a.KeyID, APNsTeamID: a.TeamID,
		APNsTopic: a.Topic, APNsEnvironment: "sandbox", APNsEndpoint: a.URL, RootCAs: pool}
}

// TestMobilePushEndToEnd: the app registers an Android phone and an
// iPhone through the API; an event posted with an API token reaches both
// local push servers (FCM with the bearer its token server issued, APNs
// with the ES256 provider token). Both failing for now, then succeeding,
// gives exactly one message each; both refusing fails the delivery with
// the error, visible to admins; both gone removes the devices, and the
// next event skips the channel.
func TestMobilePushEndToEnd(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		fcmd, apnsd := pushtest.NewFCM(t), pushtest.NewAPNs(t)
		r := start(t, engine, app.Config{Mobile: mobileSettings(t, fcmd, apnsd)})
		setup := setupAna(t, r, "en")
		bea, err := r.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bea", Email: "bea@example.com", Password: "tangerine-violin"})
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// Bea's app signs in and registers her two devices.
		status, body := apiCall(t, r, "POST", "/auth/login", "", `{"email":"bea@example.com","password":"tangerine-violin"}`)
		var login struct{ Token string }
		if status != http.StatusOK || json.Unmarshal(body, &login) != nil || login.Token == "" {
			t.Fatalf("login: %d %s", status, body)
		}
		for _, dev := range []string{`{"platform":"android","token":"` + e2eAndroidToken + `","app_version":"3.2.1","locale":"en-GB"}`,
			`{"platform":"ios","token":"` + e2eAPNsToken + `","app_version":"3.2.1"}`} {
			if status, body := apiCall(t, r, "POST", "/me/devices", login.Token, dev); status != http.StatusOK {
				t.Fatalf("register: %d %s", status, body)
			}
		}
		// Before, the settings showed the channel usable.
		status, body = apiCall(t, r, "GET", "/me/notification-settings", login.Token, "")
		if status != http.StatusOK || !strings.Contains(string(body), `{"channel":"mobile","usable":true}`) {
			t.Fatalf("settings: %s", body)
		}

		event := func(title string) {
			postEvent(t, r, token, fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":%q,"from":"Ana","url":"https://crm.example/tasks/7"}}`, bea.ID, title))
		}

		event("Call Globex")
		if d := settledDelivery(t, r, bea, "mobile", 1); d.Status != core.DeliverySent || d.Attempts != 1 {
			t.Fatalf("first: %+v", d)
		}
		f, a := fcmd.WaitFor(t, 1, 5*time.Second)[0], apnsd.WaitFor(t, 1, 5*time.Second)[0]
		fm := f.Payload["message"].(map[string]any)
		if fm["token"] != e2eAndroidToken || fm["notification"].(map[string]any)["title"] != "New task: Call Globex" ||
			fm["data"].(map[string]any)["url"] != "https://crm.example/tasks/7" {
			t.Fatalf("FCM got %s", f.Body)
		}
		if a.Token != e2eAPNsToken || a.Payload["aps"].(map[string]any)["alert"].(map[string]any)["title"] != "New task: Call Globex" ||
			a.Header.Get("apns-topic") != apnsd.Topic {
			t.Fatalf("APNs got %s", a.Body)
		}

		// Both busy, then fine: one message each, the delivery sent on the
		// second attempt.
		fcmd.Then(pushtest.Answer{Status: 503, Reason: "UNAVAILABLE", RetryAfter: "1"})
		apnsd.Then(pushtest.Answer{Status: 429, Reason: "TooManyRequests"})
		event("Call Initech")
		if d := settledDelivery(t, r, bea, "mobile", 2); d.Status != core.DeliverySent || d.Attempts != 2 {
			t.Fatalf("after busy: %+v", d)
		}
		count := func(rs []pushtest.Received, title string) int {
			n := 0
			for _, x := range rs {
				if strings.Contains(string(x.Body), title) {
					n++
				}
			}
			return n
		}
		if count(fcmd.Received(), "Call Initech") != 1 || count(apnsd.Received(), "Call Initech") != 1 {
			t.Fatalf("after busy: FCM %d, APNs %d", count(fcmd.Received(), "Call Initech"), count(apnsd.Received(), "Call Initech"))
		}

		// Both refuse the message: failed, with both errors, shown to admins.
		fcmd.Then(pushtest.Answer{Status: 400, Reason: "INVALID_ARGUMENT"})
		apnsd.Then(pushtest.Answer{Status: 400, Reason: "BadCollapseId"})
		event("Call Umbrella")
		if d := settledDelivery(t, r, bea, "mobile", 3); d.Status != core.DeliveryFailed || !strings.Contains(d.LastError, "INVALID_ARGUMENT") || !strings.Contains(d.LastError, "BadCollapseId") {
			t.Fatalf("refused: %+v", d)
		}
		status, body = apiCall(t, r, "GET", fmt.Sprintf("/users/%d/deliveries", bea.ID), token, "")
		if status != http.StatusOK || !strings.Contains(string(body), `"status":"failed"`) || !strings.Contains(string(body), "INVALID_ARGUMENT") {
			t.Fatalf("deliveries: %d %s", status, body)
		}
		if strings.Contains(string(body), e2eAndroidToken) || strings.Contains(string(body), e2eAPNsToken) {
			t.Fatal("a device token shows in the deliveries")
		}

		// Both gone: the devices are removed, the delivery fails.
		fcmd.Always(e2eAndroidToken, pushtest.Answer{Status: 404, Reason: "UNREGISTERED"})
		apnsd.Always(e2eAPNsToken, pushtest.Answer{Status: 410, Reason: "Unregistered", Timestamp: time.Now().Add(time.Minute)})
		event("Call Hooli")
		if d := settledDelivery(t, r, bea, "mobile", 4); d.Status != core.DeliveryFailed {
			t.Fatalf("gone: %+v", d)
		}
		if status, body := apiCall(t, r, "GET", "/me/devices", login.Token, ""); status != http.StatusOK || !strings.Contains(string(body), `"items":[]`) {
			t.Fatalf("devices after gone: %s", body)
		}
		// Nothing to reach now: skipped, not failed.
		event("Call Stark")
		if d := settledDelivery(t, r, bea, "mobile", 5); d.Status != core.DeliverySkipped || d.Reason != "channel_unavailable" {
			t.Fatalf("no device: %+v", d)
		}
		if v := append(fcmd.Violations(), apnsd.Violations()...); len(v) > 0 || fcmd.TokenRequests() != 1 {
			t.Fatalf("violations %v, %d access tokens", v, fcmd.TokenRequests())
		}
	})
}

// TestMobileNotConfigured: without FCM and APNs the channel is shown as
// not configured and its deliveries are skipped, while the app can still
// register devices for when it is.
func TestMobileNotConfigured(t *testing.T) {
	ctx := context.Background()
	r := start(t, store.SQLite, app.Config{})
	setup := setupAna(t, r, "en")
	if status, body := apiCall(t, r, "POST", "/me/devices", setup.Token, `{"platform":"android","token":"`+e2eAndroidToken+`"}`); status != http.StatusOK {
		t.Fatalf("register: %d %s", status, body)
	}
	status, body := apiCall(t, r, "GET", "/me/notification-settings", setup.Token, "")
	if status != http.StatusOK || !strings.Contains(string(body), `"channel":"mobile","usable":false,"reason":"not_configured"`) {
		t.Fatalf("settings: %s", body)
	}
	// A half-configured APNs refuses to start.
	if _, err := app.Open(ctx, app.Config{DataDir: t.TempDir(), Mobile: mobile.Settings{APNsTopic: "com.example"}}, nil); err == nil ||
		!strings.Contains(err.Error(), "--apns-key") {
		t.Fatalf("APNs without a key: %v", err)
	}
}
