package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"roster/internal/app"
	"roster/internal/notify/webpush/webpushtest"
	"roster/internal/profile"
)

// fakeRegistrationJS stands in for one thing only: the browser's
// registration with its vendor's push service (Google's for Chromium),
// which this machine cannot reach. PushManager.subscribe and
// getSubscription give the subscription the local push service made, as
// the browser would give one its vendor made; everything else is real:
// the permission prompt's answer, the service worker, Roster's encryption
// and VAPID, and the notification the worker shows.
const fakeRegistrationJS = `(() => {
  const SUB = %s;
  const stored = () => localStorage.getItem("e2e-push-key");
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const make = (key) => ({
    endpoint: SUB.endpoint, expirationTime: null,
    options: { applicationServerKey: key.buffer, userVisibleOnly: true },
    toJSON: () => ({ endpoint: SUB.endpoint, expirationTime: null, keys: { p256dh: SUB.p256dh, auth: SUB.auth } }),
    unsubscribe: () => { localStorage.removeItem("e2e-push-key"); return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (opts) {
    const key = new Uint8Array(opts.applicationServerKey);
    localStorage.setItem("e2e-push-key", btoa(String.fromCharCode(...key)));
    return Promise.resolve(make(key));
  };
  PushManager.prototype.getSubscription = function () {
    const s = stored();
    return Promise.resolve(s ? make(bytes(s)) : null);
  };
})();`

// TestBrowserPush: a person whose language is Spanish presses "Enable
// browser notifications" on the notifications page: the browser's
// permission (granted), the service worker, the subscription recorded and
// the browser listed. An event posted through the API reaches the push
// service encrypted with a signed VAPID token; handed to Chromium, the
// service worker shows it as a system notification, in Spanish, with the
// item's link. The web app is installable: Chromium reports no
// installability error for its manifest and service worker. Turning it off
// in this browser removes the subscription.
func TestBrowserPush(t *testing.T) {
	ctx := browser(t)
	svc := webpushtest.NewService(t)
	a, base := startRosterWith(t, func(c *app.Config) {
		c.PushAllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	bg := context.Background()
	const email = "lia@example.com"
	admin := uxWorkspace(t, a.Accounts, "Lia Admin", email)
	es := "es"
	if _, err := a.Profiles.Update(bg, admin, admin.ID, profile.Changes{Language: &es}, ""); err != nil {
		t.Fatal(err)
	}
	secret, _, err := a.Auth.CreateAPIToken(bg, admin, "CRM", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	sub := svc.NewSubscription()
	subJSON, _ := json.Marshal(map[string]string{"endpoint": sub.Endpoint, "p256dh": sub.P256dh, "auth": sub.Auth})

	// The service worker's registration, from the DevTools events.
	var mu sync.Mutex
	var regID serviceworker.RegistrationID
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*serviceworker.EventWorkerRegistrationUpdated); ok {
			for _, r := range e.Registrations {
				if r.ScopeURL == base+"/" && !r.IsDeleted {
					mu.Lock()
					regID = r.RegistrationID
					mu.Unlock()
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	// What reaches the push service goes on to the browser, as the
	// vendor's push service would send it.
	pushed := make(chan []byte, 4)
	svc.OnPush = func(_ webpushtest.Sub, plaintext []byte) { pushed <- plaintext }

	if err := chromedp.Do(ctx,
		command(page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(fakeRegistrationJS, subJSON)}),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: base})
			return err
		}),
		command(serviceworker.Enable, cdp.Empty{}),
		signIn(base, email),
		chromedp.Navigate(base+"/settings/notifications"),
		chromedp.WaitVisible(css(`[data-push-enable]`)),
	); err != nil {
		t.Fatalf("open the settings: %v", err)
	}
	if got := eval[string](t, ctx, `document.querySelector("[data-push-enable]").textContent`); got != "Activar notificaciones del navegador" {
		t.Fatalf("the button reads %q", got)
	}
	// The page reloads and lists this browser; the control says it is on.
	if err := chromedp.Do(ctx, chromedp.Click(css(`[data-push-enable]`)), chromedp.WaitVisible(css(`.push-browsers li`))); err != nil {
		t.Fatalf("enable: %v", err)
	}
	waitJS(t, ctx, "on in this browser", `(() => { const b = document.querySelector("[data-push-disable]"); return b && !b.hidden; })()`, 10*time.Second)
	if got := eval[string](t, ctx, `document.querySelector("[data-push-status]").textContent`); got != "Las notificaciones están activadas en este navegador." {
		t.Errorf("status %q", got)
	}
	list, err := a.Push.List(bg, admin)
	if err != nil || len(list) != 1 {
		t.Fatalf("subscriptions: %+v %v", list, err)
	}
	// Removed from the list (here, from another device): this browser,
	// though still subscribed, no longer says it is on; enabling again
	// brings it back.
	if err := a.Push.Remove(bg, admin, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitReady(css(`body`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the enable button after removal", `(() => { const b = document.querySelector("[data-push-enable]"); return b && !b.hidden && !document.querySelector(".push-browsers"); })()`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(css(`[data-push-enable]`)), chromedp.WaitVisible(css(`.push-browsers li`))); err != nil {
		t.Fatalf("enable again: %v", err)
	}
	waitJS(t, ctx, "on again", `(() => { const b = document.querySelector("[data-push-disable]"); return b && !b.hidden; })()`, 10*time.Second)

	// An event for her, through the API.
	body := fmt.Sprintf(`{"type":"lead.incoming","recipients":[%d],"data":{"title":"Globex Corporation","source":"form","url":"https://crm.example/leads/7"}}`, admin.ID)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("post event: %d", res.StatusCode)
	}
	var plaintext []byte
	select {
	case plaintext = <-pushed:
	case <-time.After(20 * time.Second):
		t.Fatal("nothing reached the push service")
	}
	type shown struct {
		Title, Body, Lang, URL, Icon string
	}
	var got []shown
	// Chromium may have to start the idle service worker for the push. In
	// one CI run, with the other packages' tests beside this one, 10 s ran
	// out with the push delivered and the page live; in about one run of
	// four (before and after 2026-12-06) a delivery through DevTools showed
	// nothing for 30 s. The push is delivered again, to the registration
	// last reported, until it shows: it carries a tag, so a second delivery
	// replaces the first notification and the count below stays one.
	shownJS := `navigator.serviceWorker.ready.then(r => r.getNotifications()).then(l => l.length > 0)`
	for attempt := 1; ; attempt++ {
		mu.Lock()
		id := regID
		mu.Unlock()
		if id == "" {
			t.Fatal("no service worker registration for the site")
		}
		if err := chromedp.Do(ctx, command(serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
			Origin: base, RegistrationID: id, Data: string(plaintext)})); err != nil {
			t.Fatalf("deliver the push to the browser: %v", err)
		}
		if attempt == 3 {
			waitJS(t, ctx, "the notification shown", shownJS, 20*time.Second)
			break
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](shownJS, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err == nil {
			break
		}
		t.Logf("push delivery %d showed nothing in 10 s; delivering again", attempt)
	}
	got = eval[[]shown](t, ctx, `navigator.serviceWorker.ready.then(r => r.getNotifications()).then(l => l.map(n => ({Title: n.title, Body: n.body, Lang: n.lang, URL: n.data.url, Icon: n.icon})))`,
		chromedp.EvalAwaitPromise)
	if len(got) != 1 || got[0].Title != "Nuevo lead: Globex Corporation" || got[0].URL != "https://crm.example/leads/7" ||
		got[0].Lang != "es" || !strings.Contains(got[0].Icon, "/static/icon-192.") {
		t.Fatalf("shown: %+v", got)
	}

	// Installable: the manifest and the service worker satisfy Chromium.
	inst, err := chromedp.Call(ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.InstallabilityErrors) > 0 {
		t.Errorf("not installable: %+v", inst.InstallabilityErrors[0])
	}

	// Off in this browser: the record goes.
	if err := chromedp.Do(ctx, chromedp.Click(css(`[data-push-disable]`)), chromedp.WaitNotPresent(css(`.push-browsers`))); err != nil {
		t.Fatalf("turn off: %v", err)
	}
	waitJS(t, ctx, "the enable button back", `(() => { const b = document.querySelector("[data-push-enable]"); return b && !b.hidden; })()`, 10*time.Second)
	if list, err := a.Push.List(bg, admin); err != nil || len(list) != 0 {
		t.Fatalf("after turning off: %+v %v", list, err)
	}
}
