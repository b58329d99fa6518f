package web

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/notify/webpush"
	"roster/internal/services"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// testVAPIDKey is a well-formed VAPID public key for the page to carry.
const testVAPIDKey = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"

// browserSubscription is what a browser's PushSubscription.toJSON() gives:
// an https endpoint and fresh keys.
func browserSubscription(t *testing.T, endpoint, ua string) webpush.SubscribeInput {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return webpush.SubscribeInput{Endpoint: endpoint, P256dh: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		Auth: base64.RawURLEncoding.EncodeToString(auth), UserAgent: ua}
}

const (
	uaChromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// TestBrowserPushCard: with browser push configured, the notifications
// page carries the enable control (hidden until the script shows it, with
// a <noscript> note) and the server's key, in the viewer's language, and
// lists the viewer's subscribed browsers by name, each with a remove form
// that works without script; another person's browser cannot be removed.
// Without browser push and nothing subscribed, none of it is drawn.
func TestBrowserPushCard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, func(d *Deps, _ *services.Config) { d.PushKey = testVAPIDKey })
		ada := e.setup("es")
		bo := e.createUser("Acme", "Bo", "bo@acme.test", core.RoleUser)
		cookie := e.login("ada@acme.test")
		w := e.get("/settings/notifications", cookie)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, `data-push-key="`+testVAPIDKey+`"`, "Activar notificaciones del navegador",
			"<noscript><p class=\"muted\">Para activar las notificaciones del navegador se necesita JavaScript.</p></noscript>")
		wantNotContains(t, w, `class="push-browsers"`)

		push := e.h.deps.Push.(*webpush.Subscriptions)
		chrome, err := push.Subscribe(ctx, ada, browserSubscription(t, "https://push.example.net/wpush/v2/ada-1", uaChromeWindows))
		if err != nil {
			t.Fatal(err)
		}
		firefox, err := push.Subscribe(ctx, ada, browserSubscription(t, "https://push.example.org/wpush/v2/ada-2", uaFirefoxLinux))
		if err != nil {
			t.Fatal(err)
		}
		bos, err := push.Subscribe(ctx, bo, browserSubscription(t, "https://push.example.net/wpush/v2/bo-1", uaChromeWindows))
		if err != nil {
			t.Fatal(err)
		}
		w = e.get("/settings/notifications", cookie)
		wantContains(t, w, "Navegadores que reciben notificaciones", "Chrome en Windows", "Firefox en Linux", "Añadido el",
			fmt.Sprintf(`action="/settings/notifications/push/%d/remove"`, chrome.ID), fmt.Sprintf(`form="push-remove-%d"`, firefox.ID))
		wantNotContains(t, w, fmt.Sprintf("/push/%d/remove", bos.ID), "ada-1", "push.example")

		// Bo's browser is not Ada's to remove.
		wantStatus(t, e.post(fmt.Sprintf("/settings/notifications/push/%d/remove", bos.ID), cookie, nil), http.StatusNotFound)
		if list, _ := push.List(ctx, bo); len(list) != 1 {
			t.Fatal("Bo's browser was removed by Ada")
		}
		w = e.post(fmt.Sprintf("/settings/notifications/push/%d/remove", chrome.ID), cookie, nil)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/notifications?done=push_removed#channels")
		w = e.get("/settings/notifications?done=push_removed", cookie)
		wantContains(t, w, "El navegador ya no recibe notificaciones.", "Firefox en Linux")
		wantNotContains(t, w, "Chrome en Windows")
	})
	t.Run("off", func(t *testing.T) {
		// Browser push turned off after people subscribed: nothing to
		// enable, but their browsers are listed and can be removed.
		e := newEnv(t, storetest.Open(t, store.SQLite))
		ada := e.setup("en")
		cookie := e.login("ada@acme.test")
		w := e.get("/settings/notifications", cookie)
		wantStatus(t, w, http.StatusOK)
		wantNotContains(t, w, "data-push-key", "Enable browser notifications", "push-browsers")
		wantStatus(t, e.post("/settings/notifications/push/1/remove", cookie, nil), http.StatusNotFound)
		sub, err := e.h.deps.Push.(*webpush.Subscriptions).Subscribe(context.Background(), ada, browserSubscription(t, "https://push.example.net/x", uaFirefoxLinux))
		if err != nil {
			t.Fatal(err)
		}
		w = e.get("/settings/notifications", cookie)
		wantContains(t, w, "Firefox on Linux", fmt.Sprintf(`action="/settings/notifications/push/%d/remove"`, sub.ID))
		wantNotContains(t, w, "data-push-key")
		wantRedirect(t, e.post(fmt.Sprintf("/settings/notifications/push/%d/remove", sub.ID), cookie, nil), http.StatusSeeOther,
			"/settings/notifications?done=push_removed#channels")
	})
}

// TestServiceWorkerAndManifest: /sw.js is served at the root (its scope is
// every page), never cached long, with the icons' hashed URLs filled in;
// the manifest names the app and lists icons that are served; every page
// links the manifest.
func TestServiceWorkerAndManifest(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	w := e.get("/sw.js", "")
	wantStatus(t, w, http.StatusOK)
	if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); !strings.HasPrefix(ct, "text/javascript") || cc != "no-cache" {
		t.Errorf("sw.js: Content-Type %q, Cache-Control %q", ct, cc)
	}
	sw := w.Body.String()
	icon := e.h.StaticURL("icon-192.png")
	if icon == "" || !strings.Contains(sw, `const ICON = "`+icon+`"`) || strings.Contains(sw, "{{") {
		t.Errorf("the worker's icon is not filled in: %q", sw[:min(len(sw), 400)])
	}
	for _, handler := range []string{`addEventListener("push"`, `addEventListener("notificationclick"`, `addEventListener("pushsubscriptionchange"`} {
		if !strings.Contains(sw, handler) {
			t.Errorf("the worker lacks %s", handler)
		}
	}

	w = e.get("/manifest.webmanifest", "")
	wantStatus(t, w, http.StatusOK)
	if ct := w.Header().Get("Content-Type"); ct != "application/manifest+json" {
		t.Errorf("manifest Content-Type %q", ct)
	}
	var m manifest
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "Roster" || m.Display != "standalone" || m.StartURL == "" || len(m.Icons) != 3 {
		t.Fatalf("manifest %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		r := e.get(ic.Src, "")
		wantStatus(t, r, http.StatusOK)
		if r.Header().Get("Content-Type") != "image/png" {
			t.Errorf("%s: %s", ic.Src, r.Header().Get("Content-Type"))
		}
		sizes[ic.Sizes+" "+ic.Purpose] = true
	}
	if !sizes["192x192 any"] || !sizes["512x512 any"] || !sizes["512x512 maskable"] {
		t.Errorf("icons %v", sizes)
	}
	e.setup("en")
	w = e.get("/login", "")
	wantContains(t, w, `<link rel="manifest" href="/manifest.webmanifest">`)
}
