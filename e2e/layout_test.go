package e2e

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/notify/webpush"
	"roster/internal/security"
)

// The longest names allowed (core.MaxNameLen characters), made of long words
// that do not break easily: what overflows a table or a card first.
const (
	longAdminName = "Maximiliano Fernández-Castellanos de Villavicencio"
	longUserName  = "Вильгельмина Константинопольская-Верхнеднепровская"
	longTokenName = "Integración-sincronización-automática-de-contactos"
)

var (
	languages = []string{"en", "es", "pt-BR", "id", "tr", "ru"}
	widths    = []int64{1280, 768, 360}
	// axeWidths get an axe-core run; the first also one in the dark theme.
	axeWidths = []int64{1280, 360}
)

// layoutJS lists what does not fit: the page scrolling sideways, an element
// sticking out of its card, content clipped inside a card (a scroll area).
const layoutJS = `(() => {
  const out = [];
  const de = document.documentElement;
  const name = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (typeof el.className === "string" && el.className.trim()) s += "." + el.className.trim().split(/\s+/).join(".");
    return s;
  };
  const path = el => { const p = []; for (let e = el; e && e !== document.body && !(e.classList.contains("card") && e !== el); e = e.parentElement) p.unshift(name(e)); return p.slice(-3).join(" > "); };
  const scrolled = el => { for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) if (getComputedStyle(e).overflowX !== "visible") return true; return false; };
  // Hidden but for screen readers: clipped to a pixel (.visually-hidden, a
  // table head over stacked rows), or the skip link before it is focused.
  const clipped = [...document.querySelectorAll("*")].filter(e => getComputedStyle(e).clip !== "auto" || e.matches(".skip-link"));
  const hidden = el => clipped.some(c => c.contains(el));
  if (de.scrollWidth > de.clientWidth) {
    // Name the innermost elements that reach past the right edge.
    const wide = [...document.body.querySelectorAll("*")].filter(el => !hidden(el) && !scrolled(el) && el.getBoundingClientRect().right > de.clientWidth + 1);
    const inner = wide.filter(el => !wide.some(o => o !== el && el.contains(o))).slice(0, 3).map(path);
    out.push("page scrolls sideways: scrollWidth " + de.scrollWidth + " > clientWidth " + de.clientWidth + " (" + inner.join(", ") + ")");
  }
  for (const card of document.querySelectorAll(".card")) {
    const cr = card.getBoundingClientRect();
    if (cr.width === 0) continue;
    for (const el of card.querySelectorAll("*")) {
      if (hidden(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > cr.right + 1 || r.left < cr.left - 1) {
        out.push(path(el) + " sticks out of its card by " + Math.round(Math.max(r.right - cr.right, cr.left - r.left)) + "px");
        break;
      }
    }
    // Content wider than its box: text spilling out, or a scroll area
    // that hides part of it.
    for (const el of [card, ...card.querySelectorAll("*")]) {
      if (el.matches("input, select, textarea, iframe") || hidden(el)) continue;
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        out.push(path(el) + " has content wider than itself (" + el.scrollWidth + "px in " + el.clientWidth + "px, overflow-x " + getComputedStyle(el).overflowX + ")");
        break;
      }
    }
  }
  // A button beside an input in a row of fields starts at the input's top.
  for (const b of document.querySelectorAll(".form-row .field-submit .btn")) {
    const br = b.getBoundingClientRect();
    for (const f of b.closest(".form-row").querySelectorAll("input:not([type=hidden]):not([type=checkbox]), select")) {
      const fr = f.getBoundingClientRect();
      if (fr.width > 0 && Math.abs(fr.top - br.top) < 24 && (Math.abs(fr.top - br.top) > 1 || Math.abs(fr.height - br.height) > 2)) {
        out.push(path(b) + " is not lined up with " + path(f) + " beside it (top " + Math.round(br.top - fr.top) + "px, height " + Math.round(br.height - fr.height) + "px)");
      }
    }
  }
  return out;
})()`

// previewJS opens the photo preview as a dropped file does (with a tiny
// PNG), dialogJS the confirmation dialog of the page's first form[data-confirm].
const (
	previewJS = `(() => {
  const p = document.querySelector("[data-photo-preview]");
  p.querySelector("img").src = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
  p.hidden = false;
})()`
	dialogJS = `(() => {
  const f = document.querySelector("form[data-confirm]"), d = document.getElementById("confirm-dialog");
  d.querySelector(".dialog-text").textContent = f.dataset.confirm;
  document.getElementById("confirm-ok").textContent = f.dataset.confirmButton;
  d.showModal();
})()`
)

// focusJS names the focused element and, when nothing shows it (no outline,
// no ring), says so.
const focusJS = `(() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  const id = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "[" + (el.getAttribute("href") || el.getAttribute("name") || el.textContent.trim().slice(0, 20)) + "]" + [...document.querySelectorAll("*")].indexOf(el);
  const shown = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 && s.outlineColor !== "rgba(0, 0, 0, 0)") || s.boxShadow !== "none";
  return [id, shown ? "" : "outline " + s.outlineStyle + " " + s.outlineColor + ", box-shadow " + s.boxShadow];
})()`

// axeJS runs axe-core and returns its critical and serious violations.
const axeJS = `axe.run(document, {resultTypes: ["violations"], iframes: false}).then(r => r.violations
  .filter(v => v.impact === "critical" || v.impact === "serious")
  .map(v => ({id: v.id, impact: v.impact, targets: v.nodes.map(n => n.target.join(" ")).slice(0, 4)})))`

type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Targets []string `json:"targets"`
}

// layoutPage is one page to check; open runs after loading it (e.g. opens
// a panel), then the page is checked at every width.
type layoutPage struct {
	name, path string
	open       string // JavaScript run after load
}

// findings collects problems by text, with the languages they appeared in,
// so one broken rule reads as one line rather than thirty-six. Measurements
// (digits) are left out of the grouping and shown for the first language.
type findings map[string]*finding

type finding struct {
	first string
	langs []string
}

var digits = regexp.MustCompile(`[0-9]+`)

func (f findings) add(where, problem, lang string) {
	key := where + digits.ReplaceAllString(problem, "N")
	if f[key] == nil {
		f[key] = &finding{first: where + problem}
	}
	if !slices.Contains(f[key].langs, lang) {
		f[key].langs = append(f[key].langs, lang)
	}
}

func (f findings) report(t *testing.T, what string) {
	t.Helper()
	if len(f) == 0 {
		return
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s [%s]", f[k].first, strings.Join(f[k].langs, " "))
	}
	t.Errorf("%s (%d):%s", what, len(f), b.String())
}

// TestLayoutAndAccessibility visits every page in all six languages at 1280,
// 768 and 360 px, with 50-character names, a pending invitation, API tokens
// and audit entries on screen, the photo preview and the confirmation
// dialog open, and the Security page's method cards with an app set-up
// pending (QR code) and with the app on (its disclosures open). No page may scroll sideways and nothing may
// stick out of (or be clipped in) its card; axe-core (vendored, injected
// through the DevTools protocol, so the page's CSP does not stop it) must
// find no critical or serious violation, in the light and the dark theme.
func TestLayoutAndAccessibility(t *testing.T) {
	axeSrc, err := os.ReadFile("testdata/axe-core/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	ctx := browserWithin(t, 12*time.Minute) // a guard against a hang, not a speed limit: 6 minutes ran out on a loaded machine
	a, base := startRoster(t)
	bg := context.Background()
	start := time.Now()

	var layout, access findings = findings{}, findings{}
	check := func(lang string, p layoutPage) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+p.path), chromedp.WaitReady(css(`body`))); err != nil {
			t.Fatalf("%s in %s: %v", p.name, lang, err)
		}
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); err != nil || got != lang {
			t.Fatalf("%s: page language %q, want %q (%v)", p.name, got, lang, err)
		}
		if p.open != "" {
			if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](p.open, chromedp.EvalAwaitPromise)); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
		}
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](string(axeSrc))); err != nil {
			t.Fatalf("inject axe-core into %s: %v", p.name, err)
		}
		for _, w := range widths {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)); err != nil {
				t.Fatal(err)
			}
			problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](layoutJS))
			if err != nil {
				t.Fatalf("layout check of %s: %v", p.name, err)
			}
			for _, pr := range problems {
				layout.add(fmt.Sprintf("%s at %dpx: ", p.name, w), pr, lang)
			}
			if !slices.Contains(axeWidths, w) {
				continue
			}
			schemes := []string{"light"}
			if w == axeWidths[0] {
				schemes = append(schemes, "dark")
			}
			for _, scheme := range schemes {
				if err := chromedp.Do(ctx, emulateScheme(scheme)); err != nil {
					t.Fatal(err)
				}
				vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeJS, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatalf("axe-core on %s: %v", p.name, err)
				}
				for _, v := range vs {
					access.add(fmt.Sprintf("%s (%s) on %s at %dpx, %s theme: ", v.ID, v.Impact, p.name, w, scheme), strings.Join(v.Targets, " | "), lang)
				}
			}
			if err := chromedp.Do(ctx, emulateScheme("")); err != nil {
				t.Fatal(err)
			}
		}
	}
	acceptLanguage := func(lang string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
			return err
		})
	}

	// Before setup: the setup page.
	for _, lang := range languages {
		if err := chromedp.Do(ctx, acceptLanguage(lang)); err != nil {
			t.Fatal(err)
		}
		check(lang, layoutPage{name: "setup", path: "/setup"})
	}

	// A workspace whose people have the longest names.
	const pw = "tangerine-violin-42"
	adminEmail := "maximiliano.fernandez-castellanos@villavicencio-consultores.example"
	res, err := a.Accounts.Setup(bg, account.SetupInput{Workspace: "Compañía Internacional de Distribución Comercial", Timezone: "America/Argentina/Buenos_Aires",
		Language: "en", Name: longAdminName, Email: adminEmail, Password: pw, IP: "2001:db8:85a3:1234:5678:8a2e:370:7334", Device: "Chrome on Linux"})
	if err != nil {
		t.Fatal(err)
	}
	admin := res.User
	userEmail := "vilgelmina.konstantinopolskaya@verkhnedneprovsk.example"
	other, err := a.Accounts.CreateUser(bg, account.CreateUserInput{Workspace: "Compañía Internacional de Distribución Comercial",
		Name: longUserName, Email: userEmail, Password: pw, Role: core.RoleUser, Rights: []core.Right{core.RightProfileAccess}})
	if err != nil {
		t.Fatal(err)
	}
	// The other user has the authenticator app on, so signing in asks for a code.
	otherRes, err := a.Security.SignIn(bg, auth.LoginInput{Email: userEmail, Password: pw, IP: "203.0.113.7", Device: "Firefox on Android"})
	if err != nil || otherRes.LoginResult == nil {
		t.Fatalf("sign in %v", err)
	}
	principal := &auth.Principal{User: otherRes.User, Session: otherRes.Session}
	setup, err := a.Security.StartTOTP(bg, principal, pw, "", "", "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Security.ConfirmTOTP(bg, principal, security.CodeAt(setup.Secret, time.Now()), "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Accounts.Invite(bg, admin, account.InviteInput{Email: "konstantin.verkhnedneprovsky-rimsky@example.com", Role: core.RoleAdmin,
		Rights: []core.Right{core.RightProfileAccess}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{longTokenName, "CRM"} {
		if _, _, err := a.Auth.CreateAPIToken(bg, admin, name, 90*24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Profiles.SendPasswordReset(bg, admin, other.ID, "2001:db8:85a3:1234:5678:8a2e:370:7334"); err != nil {
		t.Fatal(err)
	}
	inviteLink := mailedLink(t, a.Accounts, admin, regexp.MustCompile(`/invite/[A-Za-z0-9_-]+`))
	resetLink := mailedLink(t, a.Accounts, admin, regexp.MustCompile(`/password/reset/[A-Za-z0-9_-]+`))

	// Public pages, in the browser's language (the reset page: its user's).
	public := []layoutPage{
		{name: "sign-in", path: "/login"},
		{name: "invitation", path: inviteLink},
		{name: "password reset", path: resetLink},
		{name: "unsubscribe", path: "/unsubscribe/" + notify.UnsubscribeToken(a.Secrets.MAC, other.ID, "task.assigned")},
		{name: "not found", path: "/no-such-page"},
	}
	for _, lang := range languages {
		if err := chromedp.Do(ctx, acceptLanguage(lang)); err != nil {
			t.Fatal(err)
		}
		setLanguage(t, a, other.ID, lang)
		for _, p := range public {
			check(lang, p)
		}
		// The code page comes after a correct password.
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(css(`input[name="email"]`), userEmail),
			chromedp.SendKeys(css(`input[name="password"]`), pw),
			chromedp.Submit(css(`input[name="password"]`)),
			chromedp.WaitVisible(css(`input[name="code"]`)),
		)
		if err != nil {
			t.Fatalf("sign-in code page: %v", err)
		}
		check(lang, layoutPage{name: "sign-in code", path: "/login"})
	}
	_ = chromedp.Do(ctx, chromedp.Navigate(base+"/login"))

	// Signed in as the admin, every settings page in each language.
	err = chromedp.Do(ctx,
		acceptLanguage("en"),
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(css(`input[name="email"]`), adminEmail),
		chromedp.SendKeys(css(`input[name="password"]`), pw),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	// Notifications of every kind, with long titles, for the centre.
	var events []notify.EventInput
	for _, e := range []struct {
		typ  string
		data map[string]any
	}{
		{"lead.incoming", map[string]any{"source": "form", "url": "https://crm.example/leads/7"}},
		{"task.assigned", map[string]any{"from": longUserName}},
		{"chat.message", map[string]any{"text": "¿Podrían enviarme la cotización actualizada con los descuentos por volumen?"}},
		{"call.missed", nil},
		{"system.billing", map[string]any{"days": 3}},
	} {
		d := map[string]any{"title": longTokenName}
		for k, v := range e.data {
			d[k] = v
		}
		events = append(events, notify.EventInput{Type: e.typ, Recipients: []int64{admin.ID}, Data: d})
	}
	if _, err := a.Notify.Intake(bg, admin, events); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if n, _ := a.Notify.UnreadCount(bg, admin); n >= int64(len(events)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the notifications were not fanned out")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Telegram connected, with the longest username Telegram allows, so
	// "Connected as @…" and Disconnect are drawn.
	if err := a.DB.Writer().LinkTelegram(bg, core.TelegramLink{UserID: admin.ID, WorkspaceID: admin.WorkspaceID, ChatID: 1,
		Username: "maximiliano_fernandez_castellan", LinkedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Two browsers subscribed to push, so the notifications page draws
	// their list with its Remove buttons.
	for i, ua := range []string{
		"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	} {
		key, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Push.Subscribe(bg, admin, webpush.SubscribeInput{Endpoint: fmt.Sprintf("https://push.example.net/wpush/layout-%d", i),
			P256dh: base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()), Auth: "AAAAAAAAAAAAAAAAAAAAAA", UserAgent: ua}); err != nil {
			t.Fatal(err)
		}
	}
	// What app.js opens on the centre: the bell's panel and a pop-up.
	const panelJS = `(() => {
  document.querySelector("[data-bell-toggle]").click();
  const p = document.getElementById("popup-template").content.firstElementChild.cloneNode(true);
  p.querySelector(".popup-title").textContent = document.querySelector(".notice-link").textContent;
  p.querySelector(".popup-text").textContent = document.querySelector(".notice-body").textContent;
  document.getElementById("popups").appendChild(p);
  // The panel's list is filled by a request: wait for its items, not a
  // fixed time.
  const t0 = Date.now();
  return new Promise((r, fail) => { const i = setInterval(() => {
    if (document.querySelector("[data-bell-list] li")) { clearInterval(i); r(); }
    else if (Date.now() - t0 > 10000) { clearInterval(i); fail(new Error("the bell's panel is still empty after 10 s")); }
  }, 50); });
})()`
	// One Manage panel open, the last row's: the one with the least room.
	openMenus := `(() => { const d = document.querySelectorAll("main details.row-menu"); d[d.length - 1].open = true; })()`
	settings := []layoutPage{
		{name: "profile", path: "/settings/profile"},
		{name: "another user's profile", path: fmt.Sprintf("/settings/users/%d", other.ID)},
		{name: "security", path: "/settings/security"},
		{name: "notifications", path: "/settings/notifications"},
		{name: "notification defaults", path: "/settings/notifications/defaults"},
		{name: "notification centre", path: "/notifications"},
		{name: "notification centre, panel and pop-up open", path: "/notifications?category=leads", open: panelJS},
		{name: "users", path: "/settings/users", open: openMenus},
		{name: "workspace security", path: "/settings/workspace-security"},
		{name: "audit log", path: "/settings/audit"},
		{name: "delivery log", path: "/settings/deliveries"},
		{name: "notification centre, deliveries open", path: "/notifications",
			open: `document.querySelectorAll("main details.notice-deliveries").forEach(d => { d.open = true })`},
		{name: "tokens", path: "/settings/tokens"},
		{name: "outbox", path: "/settings/outbox"},
		{name: "not found (signed in)", path: "/settings/no-such-page"},
		// What app.js opens: the photo preview, the confirmation dialog.
		{name: "profile, photo preview", path: "/settings/profile", open: previewJS},
		{name: "security, dialog open", path: "/settings/security", open: dialogJS},
	}
	for _, lang := range languages {
		setLanguage(t, a, admin.ID, lang)
		for _, p := range settings {
			check(lang, p)
		}
	}
	// Keyboard only: Tab reaches every visible control of the Users page
	// (the skip link and the Manage buttons included) and each shows where
	// the focus is.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/settings/users")); err != nil {
		t.Fatal(err)
	}
	controls, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary")].filter(e => e.checkVisibility()).length`))
	if err != nil {
		t.Fatal(err)
	}
	reached := map[string]bool{}
	for range controls + 1 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](focusJS))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(got[0], "body") {
			continue // past the last control
		}
		reached[got[0]] = true
		if got[1] != "" {
			layout.add("users, keyboard: ", got[0]+" has no visible focus ("+got[1]+")", languages[len(languages)-1])
		}
	}
	if len(reached) < controls {
		t.Errorf("Tab reached %d of the %d controls of the users page", len(reached), controls)
	}
	// Two-step set-ups: the app's set-up pending, then the app on with its
	// disclosures (turn off, new backup codes) open, where a form in a
	// method card is narrowest.
	t.Logf("settings pages checked at %s", time.Since(start).Round(time.Second))
	adminPrincipal := &auth.Principal{User: admin, Session: res.Session}
	if _, err := a.Security.StartTOTP(bg, adminPrincipal, pw, "", "", "203.0.113.9"); err != nil {
		t.Fatal(err)
	}
	for _, lang := range languages {
		setLanguage(t, a, admin.ID, lang)
		check(lang, layoutPage{name: "security, app set-up pending (QR code)", path: "/settings/security"})
	}
	setLanguage(t, a, admin.ID, "en")
	t.Logf("pending set-up checked at %s", time.Since(start).Round(time.Second))
	stepCtx, cancelStep := context.WithTimeout(ctx, 20*time.Second)
	defer cancelStep()
	err = chromedp.Do(stepCtx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(base+"/settings/security"),
		// The pending set-up shows its key again (to browser sessions).
		chromedp.WaitVisible(css(`#totp-secret`)),
	)
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("read the pending set-up's key: %v\n%s", err, page)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(css(`#totp-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`#totp-code`), security.CodeAt(strings.TrimSpace(secret), time.Now())),
		chromedp.Submit(css(`#totp-code`)),
		chromedp.WaitVisible(css(`#backup-codes`)),
	)
	if err != nil {
		t.Fatalf("turn the app on: %v", err)
	}
	for _, lang := range languages {
		setLanguage(t, a, admin.ID, lang)
		check(lang, layoutPage{name: "security, app on, actions open", path: "/settings/security",
			open: `document.querySelectorAll("details.method-action").forEach(d => { d.open = true; })`})
	}
	t.Logf("checked %d pages × %d languages in %s", len(settings)+len(public)+4, len(languages), time.Since(start).Round(time.Second))
	layout.report(t, "layout problems")
	access.report(t, "axe-core critical or serious violations")
}

// emulateScheme sets prefers-color-scheme ("light", "dark"; "" clears it).
func emulateScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		p := emulation.SetEmulatedMediaParams{}
		if scheme != "" {
			p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		}
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, p)
		return err
	})
}

// mailedLink waits for the dev outbox to hold a mail with a link matching
// re and returns the link's path.
func mailedLink(t *testing.T, a interface {
	OutboxMails(context.Context, *core.User, int) ([]*core.OutboxMail, error)
}, admin *core.User, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mails, err := a.OutboxMails(context.Background(), admin, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mails {
			if link := re.FindString(m.Text); link != "" {
				return link
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no mail with a link like %s", re)
	return ""
}
