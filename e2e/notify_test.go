package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// waitJS polls a JavaScript condition in a tab until it is true.
func waitJS(t *testing.T, ctx context.Context, what, js string, within time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " badge=" + (document.querySelector("[data-bell-count]") || {}).textContent + " live=" + document.documentElement.dataset.live`))
		t.Fatalf("%s: %v (%s)", what, err, state)
	}
}

// TestNotificationsLive: with the centre open in two tabs, an event posted
// through the API raises the bell in both, shows a pop-up and puts the item
// at the top of the list; marking it read in one tab clears the badge and
// the unread mark in the other within seconds.
func TestNotificationsLive(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)
	const email = "nia@example.com"
	admin := uxWorkspace(t, a.Accounts, "Nia Admin", email)
	secret, _, err := a.Auth.CreateAPIToken(context.Background(), admin, "CRM", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), signIn(base, email)); err != nil {
		t.Fatal(err)
	}
	// Signing in may have left a security notice: start from none unread.
	if err := a.Notify.ReadAll(context.Background(), admin); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(css(`[data-centre]`))); err != nil {
		t.Fatalf("open the centre: %v", err)
	}
	// A second tab of the same browser: the same session cookie.
	tab2, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(tab2, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(css(`[data-centre]`))); err != nil {
		t.Fatalf("open the second tab: %v", err)
	}
	tabs := map[string]context.Context{"first tab": ctx, "second tab": tab2}
	for name, tab := range tabs {
		waitJS(t, tab, name+": stream open", `document.documentElement.dataset.live === "on"`, 10*time.Second)
		if !eval[bool](t, tab, `document.querySelector("[data-bell-count]").hidden`) {
			t.Errorf("%s: the badge shows before any notification", name)
		}
	}

	body := fmt.Sprintf(`{"type":"lead.incoming","recipients":[%d],"data":{"title":"Globex Corporation","source":"form","url":"https://crm.example/leads/7"}}`, admin.ID)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted && res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		t.Fatalf("post event: %d %s", res.StatusCode, answer)
	}

	for name, tab := range tabs {
		waitJS(t, tab, name+": badge 1", `(() => { const b = document.querySelector("[data-bell-count]"); return !b.hidden && b.textContent === "1"; })()`, 10*time.Second)
		waitJS(t, tab, name+": pop-up", `!!document.querySelector("#popups .popup")`, 5*time.Second)
		type popupInfo struct {
			Title string  `json:"title"`
			Open  string  `json:"open"`
			Role  string  `json:"role"`
			Right float64 `json:"right"`
			Width float64 `json:"width"`
			Label string  `json:"label"`
			Top   string  `json:"top"`
		}
		p := eval[popupInfo](t, tab, `(() => { const p = document.querySelector("#popups .popup"), r = p.getBoundingClientRect();
		  return {title: p.querySelector(".popup-title").textContent, open: p.querySelector(".popup-open").getAttribute("href"), role: p.getAttribute("role"),
		    right: r.right, width: innerWidth, label: document.querySelector("[data-bell-toggle]").getAttribute("aria-label"),
		    top: (document.querySelector(".notice.is-unread .notice-link") || {}).textContent || ""}; })()`)
		if p.Title != "New lead: Globex Corporation" || p.Open != "https://crm.example/leads/7" || p.Role != "status" {
			t.Errorf("%s: pop-up %+v", name, p)
		}
		if p.Right < p.Width-40 {
			t.Errorf("%s: the pop-up is not at the right (right edge %v of %v)", name, p.Right, p.Width)
		}
		if p.Label != "Notifications, 1 unread" {
			t.Errorf("%s: bell named %q", name, p.Label)
		}
		if p.Top != "New lead: Globex Corporation" {
			t.Errorf("%s: the new item is not at the top of the centre (%q)", name, p.Top)
		}
	}

	// Mark it read in the first tab (sent in the background).
	if err := chromedp.Do(ctx, chromedp.Click(css(`.notice.is-unread .mark-read button`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab2, "second tab: badge cleared", `document.querySelector("[data-bell-count]").hidden`, 5*time.Second)
	waitJS(t, tab2, "second tab: item read", `!document.querySelector(".notice.is-unread") && !!document.querySelector(".notice[data-notice-id]:not([data-notice-id='0'])")`, 5*time.Second)
	if got := eval[string](t, tab2, `document.querySelector("[data-bell-toggle]").getAttribute("aria-label")`); got != "Notifications, none unread" {
		t.Errorf("second tab: bell named %q", got)
	}
	waitJS(t, ctx, "first tab: badge cleared", `document.querySelector("[data-bell-count]").hidden`, 5*time.Second)

	// The panel: the bell opens it with the newest, Escape closes it and
	// gives the focus back.
	if err := chromedp.Do(tab2, chromedp.Click(css(`[data-bell-toggle]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab2, "panel lists the item", `!document.getElementById("bell-panel").hidden && (document.querySelector("[data-bell-list] li .notice-link") || {}).textContent === "New lead: Globex Corporation"`, 5*time.Second)
	if got := eval[string](t, tab2, `document.querySelector("[data-bell-toggle]").getAttribute("aria-expanded")`); got != "true" {
		t.Errorf("aria-expanded %q with the panel open", got)
	}
	if err := chromedp.Do(tab2, chromedp.KeyEvent("\x1b")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab2, "Escape closes the panel", `document.getElementById("bell-panel").hidden && document.activeElement.id === "bell-link"`, 3*time.Second)
}
