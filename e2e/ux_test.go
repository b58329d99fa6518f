package e2e

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/core"
)

const uxPassword = "tangerine-violin-42"

// uxWorkspace sets up a workspace whose admin is email, in English.
func uxWorkspace(t *testing.T, a *account.Service, name, email string) *core.User {
	t.Helper()
	res, err := a.Setup(context.Background(), account.SetupInput{Workspace: "Acme Sales", Timezone: "Europe/Madrid",
		Language: "en", Name: name, Email: email, Password: uxPassword})
	if err != nil {
		t.Fatal(err)
	}
	return res.User
}

// signIn signs in through the sign-in page.
func signIn(base, email string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`input[name="email"]`)),
		chromedp.SendKeys(css(`input[name="email"]`), email),
		chromedp.SendKeys(css(`input[name="password"]`), uxPassword),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
	)
}

// eval runs JavaScript in the page and fails the test on an error.
func eval[T any](t *testing.T, ctx context.Context, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

// dropJS drops a file on the photo card as a person dragging it from their
// desktop would: dragenter, dragover (the card lights up), drop. The file
// is a 300×200 PNG drawn on a canvas (a wide one, to see the square crop),
// or, with kind "text", a text file named like a photo.
const dropJS = `(async (kind) => {
  let file;
  if (kind === "text") {
    file = new File(["not an image at all"], "holiday.png", {type: "image/png"});
  } else {
    const c = document.createElement("canvas");
    c.width = 300; c.height = 200;
    const g = c.getContext("2d");
    g.fillStyle = "#c0392b"; g.fillRect(0, 0, 300, 200);
    g.fillStyle = "#2f5bea"; g.fillRect(50, 0, 200, 200);
    const blob = await new Promise(r => c.toBlob(r, "image/png"));
    file = new File([blob], "me.png", {type: "image/png"});
  }
  const dt = new DataTransfer();
  dt.items.add(file);
  const zone = document.querySelector("[data-photo-drop]");
  const fire = type => zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
  fire("dragenter");
  fire("dragover");
  const lit = zone.classList.contains("is-dragover");
  fire("drop");
  return lit && !zone.classList.contains("is-dragover");
})`

// TestPhotoPickerDragAndDrop: on the profile page the picker is a
// translated button; a PNG dropped on the photo card shows in a preview
// cropped as it will be stored (the centre square, object-fit: cover);
// Save uploads it with a progress bar, the new photo and a toast appear
// without a reload, and the server has the photo. A file that is not an
// image comes back with the server's translated message, in a toast and
// beside the field.
func TestPhotoPickerDragAndDrop(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)
	const email = "pia@example.com"
	uxWorkspace(t, a.Accounts, "Pia Admin", email)

	err := chromedp.Do(ctx,
		signIn(base, email),
		chromedp.WaitVisible(css(`.avatar-picker span.avatar`)),
		chromedp.WaitVisible(css(`label.photo-choose`)),
	)
	if err != nil {
		t.Fatalf("open profile: %v", err)
	}
	// The native control is hidden; the translated button is its label,
	// and no Upload button shows (the preview's Save does it).
	if got := eval[string](t, ctx, `document.querySelector("label.photo-choose").textContent.trim()`); got != "Choose photo…" {
		t.Errorf("picker button %q", got)
	}
	if eval[bool](t, ctx, `document.getElementById("photo-file").checkVisibility() && document.getElementById("photo-file").getBoundingClientRect().width > 1`) {
		t.Error("the native file input shows")
	}
	if eval[bool](t, ctx, `[...document.querySelectorAll(".photo-form button")].some(b => b.checkVisibility())`) {
		t.Error("the no-script Upload button shows with script on")
	}

	if !eval[bool](t, ctx, dropJS+`("png")`, chromedp.EvalAwaitPromise) {
		t.Error("the photo card did not light up on dragover, or stayed lit after the drop")
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`[data-photo-preview] img`))); err != nil {
		t.Fatalf("preview: %v", err)
	}
	// The preview is the stored crop: a square frame showing the centre
	// of the wide image (blue there, red only at the sides).
	type previewInfo struct {
		Src     string  `json:"src"`
		Loaded  bool    `json:"loaded"`
		Fit     string  `json:"fit"`
		Width   float64 `json:"width"`
		Height  float64 `json:"height"`
		Radius  string  `json:"radius"`
		Focused string  `json:"focused"`
	}
	info, err := chromedp.Run(ctx, chromedp.Evaluate[previewInfo](`new Promise(res => {
	  const i = document.querySelector("[data-photo-preview] img");
	  const done = () => { const r = i.getBoundingClientRect(), s = getComputedStyle(i);
	    res({src: i.src, loaded: i.complete && i.naturalWidth === 300, fit: s.objectFit, width: r.width, height: r.height, radius: s.borderRadius, focused: document.activeElement.textContent.trim()}); };
	  i.complete ? done() : i.addEventListener("load", done);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.Src, "blob:") || !info.Loaded || info.Fit != "cover" || info.Width != info.Height || info.Width < 100 || info.Radius != "50%" {
		t.Errorf("preview %+v: want the dropped image, object-fit cover, in a round square frame", info)
	}
	if info.Focused != "Save photo" {
		t.Errorf("focus on %q after the drop, want the Save button", info.Focused)
	}

	// Save: the progress bar shows, then the new photo and a toast; the
	// page was not reloaded (the marker survives).
	eval[bool](t, ctx, `(() => { window.uxMarker = "kept"; window.uxProgress = false;
	  const p = document.querySelector("[data-photo-progress]");
	  new MutationObserver(() => { if (!p.hidden) window.uxProgress = true; }).observe(p, {attributes: true});
	  return true; })()`)
	err = chromedp.Do(ctx,
		chromedp.Click(css(`[data-photo-save]`)),
		chromedp.WaitVisible(css(`.avatar-picker img.avatar`)),
		chromedp.WaitVisible(css(`#toasts .toast-success`)),
	)
	if err != nil {
		t.Fatalf("save photo: %v", err)
	}
	if got := eval[string](t, ctx, `document.querySelector("#toasts .toast-success").textContent.trim()`); got != "Photo updated." {
		t.Errorf("toast %q", got)
	}
	if !eval[bool](t, ctx, `window.uxMarker === "kept" && window.uxProgress === true`) {
		t.Error("the page reloaded, or no progress bar showed during the upload")
	}
	if !eval[bool](t, ctx, `document.querySelector("[data-photo-preview]").hidden && document.querySelector(".topbar img.avatar") !== null`) {
		t.Error("after saving, the preview is still open or the top bar lacks the new photo")
	}
	u, err := a.DB.Reader().UserByEmail(context.Background(), email)
	if err != nil || u.PhotoVersion == 0 {
		t.Fatalf("server has no photo (%v)", err)
	}
	// The stored photo loads in the page.
	if !eval[bool](t, ctx, `new Promise(res => { const i = document.querySelector(".avatar-picker img.avatar"); i.complete ? res(i.naturalWidth > 0) : i.onload = () => res(i.naturalWidth > 0); })`, chromedp.EvalAwaitPromise) {
		t.Error("the new photo did not load")
	}

	// Not an image: the server's message, in a toast and at the field; the
	// stored photo is unchanged.
	eval[bool](t, ctx, dropJS+`("text")`, chromedp.EvalAwaitPromise)
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(css(`[data-photo-save]`)),
		chromedp.Click(css(`[data-photo-save]`)),
		chromedp.WaitVisible(css(`#toasts .toast-error`)),
	)
	if err != nil {
		t.Fatalf("upload a text file: %v", err)
	}
	const want = "Upload a JPEG, PNG, GIF or WebP image."
	if got := eval[string](t, ctx, `document.querySelector("#toasts .toast-error").textContent.trim()`); got != want {
		t.Errorf("error toast %q, want %q", got, want)
	}
	if got := eval[string](t, ctx, `document.querySelector(".photo-forms .field-error").textContent.trim()`); got != want {
		t.Errorf("field error %q, want %q", got, want)
	}
	if u2, err := a.DB.Reader().UserByEmail(context.Background(), email); err != nil || u2.PhotoVersion != u.PhotoVersion {
		t.Errorf("photo changed by a refused upload (%v)", err)
	}
}

// TestSaveWithoutReload: saving the profile details sends the form in the
// background: a toast says it was saved, the page is not reloaded, the
// scroll position stays, the focus is back on Save, and the name is saved
// (the top bar shows it too). A refused save keeps the error in the page,
// toasts it, and puts the focus on the field.
func TestSaveWithoutReload(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)
	const email = "sven@example.com"
	uxWorkspace(t, a.Accounts, "Sven Admin", email)

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 600),
		signIn(base, email),
		chromedp.WaitVisible(css(`#name`)),
		chromedp.Clear(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "Sven Nordqvist"),
		chromedp.ScrollIntoView(css(`#details button[type="submit"]`)),
	)
	if err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	y := eval[float64](t, ctx, `window.uxMarker = "kept"; window.scrollY`)
	if y < 50 {
		t.Fatalf("the page did not scroll (scrollY %v); make the viewport smaller", y)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#details button[type="submit"]`)),
		chromedp.WaitVisible(css(`#toasts .toast-success`)),
	)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	type state struct {
		Marker  string  `json:"marker"`
		Y       float64 `json:"y"`
		Toast   string  `json:"toast"`
		Alert   bool    `json:"alert"`
		Top     string  `json:"top"`
		URL     string  `json:"url"`
		Focused string  `json:"focused"`
		Live    string  `json:"live"`
	}
	s := eval[state](t, ctx, `({marker: window.uxMarker || "", y: window.scrollY, toast: document.querySelector("#toasts .toast").textContent.trim(),
	  alert: !!document.querySelector("main .alert-success"), top: document.querySelector(".topbar-name").textContent, url: location.pathname + location.search,
	  focused: document.activeElement.closest("form") ? document.activeElement.closest("form").getAttribute("action") + " " + document.activeElement.textContent.trim() : document.activeElement.tagName,
	  live: document.getElementById("toasts").getAttribute("aria-live")})`)
	if s.Marker != "kept" {
		t.Error("the page was reloaded")
	}
	if math.Abs(s.Y-y) > 2 {
		t.Errorf("scroll position %v, was %v", s.Y, y)
	}
	if s.Toast != "Profile saved." || s.Alert || s.Live != "polite" {
		t.Errorf("toast %q (live %q), flash still in the page %v", s.Toast, s.Live, s.Alert)
	}
	if s.Top != "Sven Nordqvist" || s.URL != "/settings/profile?done=saved" || s.Focused != "/settings/profile Save" {
		t.Errorf("top bar name %q, URL %q, focus on %q", s.Top, s.URL, s.Focused)
	}
	if u, err := a.DB.Reader().UserByEmail(context.Background(), email); err != nil || u.Name != "Sven Nordqvist" {
		t.Fatalf("name not saved (%v)", err)
	}
	// The toast goes away by itself, or with its close button.
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#toasts .toast-close`)),
		chromedp.WaitNotPresent(css(`#toasts .toast`)),
	)
	if err != nil {
		t.Fatalf("close the toast: %v", err)
	}

	// An empty name: the error stays beside the field, a toast says so,
	// and the focus is on the field.
	err = chromedp.Do(ctx,
		chromedp.Clear(css(`#name`)),
		chromedp.Click(css(`#details button[type="submit"]`)),
		chromedp.WaitVisible(css(`#toasts .toast-error`)),
	)
	if err != nil {
		t.Fatalf("save an empty name: %v", err)
	}
	if got := eval[string](t, ctx, `document.activeElement.id + " " + (document.querySelector("#details .field-error") || {}).textContent + " " + !!document.querySelector("main .alert-error") + " " + window.uxMarker`); !strings.HasPrefix(got, "name ") || !strings.HasSuffix(got, " true kept") {
		t.Errorf("after a refused save: %q", got)
	}
}

// TestConfirmDialog: "Sign out all other sessions" asks in a <dialog>, not
// window.confirm: Cancel and Esc do nothing and give the focus back;
// Confirm signs the other session out, without a reload. Deactivating a
// user asks with a danger button named after the action.
func TestConfirmDialog(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)
	const email = "dora@example.com"
	admin := uxWorkspace(t, a.Accounts, "Dora Admin", email)
	bg := context.Background()
	// Another session of hers, on another device.
	if _, err := a.Security.SignIn(bg, auth.LoginInput{Email: email, Password: uxPassword, IP: "203.0.113.7", Device: "Firefox on Android"}); err != nil {
		t.Fatal(err)
	}
	const revoke = `form[action="/settings/security/sessions/revoke-others"] button`
	rows := `document.querySelectorAll("#sessions tbody tr").length`
	err := chromedp.Do(ctx,
		signIn(base, email),
		chromedp.Navigate(base+"/settings/security"),
		chromedp.WaitVisible(css(revoke)),
		chromedp.Click(css(revoke)),
		chromedp.WaitVisible(css(`dialog#confirm-dialog[open]`)),
	)
	if err != nil {
		t.Fatalf("open the dialog: %v", err)
	}
	eval[bool](t, ctx, `window.uxMarker = "kept"; true`)
	before := eval[int](t, ctx, rows)
	if before < 2 {
		t.Fatalf("%d sessions listed, want at least 2", before)
	}
	type dialogInfo struct {
		Text, OK, Focused string
		Modal             bool
	}
	d := eval[dialogInfo](t, ctx, `({Text: document.querySelector("#confirm-dialog .dialog-text").textContent, OK: document.getElementById("confirm-ok").textContent,
	  Focused: document.activeElement.textContent.trim(), Modal: document.querySelector("#confirm-dialog").matches(":modal")})`)
	if d.Text != "Sign out of every other device?" || d.OK != "Sign out all other sessions" || d.Focused != "Cancel" || !d.Modal {
		t.Errorf("dialog %+v", d)
	}
	// Cancel: nothing happens, the focus is back on the button.
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#confirm-dialog button[value="cancel"]`)),
		chromedp.WaitNotVisible(css(`#confirm-dialog`)),
	)
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if n := eval[int](t, ctx, rows); n != before {
		t.Errorf("%d sessions after Cancel, want %d", n, before)
	}
	if got := eval[string](t, ctx, `document.activeElement.textContent.trim()`); got != "Sign out all other sessions" {
		t.Errorf("focus after Cancel on %q", got)
	}
	// Esc cancels too.
	err = chromedp.Do(ctx,
		chromedp.Click(css(revoke)),
		chromedp.WaitVisible(css(`dialog#confirm-dialog[open]`)),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(css(`#confirm-dialog`)),
	)
	if err != nil {
		t.Fatalf("escape: %v", err)
	}
	if n := eval[int](t, ctx, rows); n != before {
		t.Errorf("%d sessions after Esc, want %d", n, before)
	}
	// Cancelled and asked again before the cancel's "close" event came (it
	// comes in a task of its own; the browser puts input first on a busy
	// page): that late event belongs to the cancelled question and must not
	// answer the open one, or Confirm below closes the dialog and does
	// nothing (the clean-clone CI runs of 6a5f65b and a5bec6e).
	reopened := eval[bool](t, ctx, `(() => { const d = document.getElementById("confirm-dialog"), b = document.querySelector('`+revoke+`');
	  b.click(); d.close("cancel"); b.click(); return d.open })()`)
	if !reopened {
		t.Fatal("the dialog did not open again")
	}
	// Let the late event come before Confirm.
	time.Sleep(100 * time.Millisecond)
	// Confirm (the dialog asked again above): the other session is signed
	// out, in place.
	confirmCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = chromedp.Do(confirmCtx,
		chromedp.Click(css(`#confirm-ok`)),
		chromedp.WaitVisible(css(`#toasts .toast-success`)),
	)
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if n := eval[int](t, ctx, rows); n != 1 {
		t.Errorf("%d sessions after Confirm, want 1", n)
	}
	if eval[string](t, ctx, `window.uxMarker || ""`) != "kept" {
		t.Error("the page was reloaded")
	}

	// Deactivate a user from the Users page: a danger button saying
	// Deactivate; confirming deactivates them.
	bob, err := a.Accounts.CreateUser(bg, account.CreateUserInput{Workspace: "Acme Sales", Name: "Bob Builder", Email: "bob@example.com",
		Password: uxPassword, Role: core.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	_ = admin
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/settings/users"),
		chromedp.WaitVisible(css(`details.row-menu summary`)),
		chromedp.Click(css(`details.row-menu summary`)),
		chromedp.Click(css(`form[action$="/deactivate"] button`)),
		chromedp.WaitVisible(css(`dialog#confirm-dialog[open]`)),
	)
	if err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	if got := eval[string](t, ctx, `document.getElementById("confirm-ok").textContent + " " + document.getElementById("confirm-ok").className`); got != "Deactivate btn btn-danger" {
		t.Errorf("confirm button %q, want Deactivate with the danger style", got)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#confirm-ok`)),
		chromedp.WaitVisible(css(`#toasts .toast-success`)),
	)
	if err != nil {
		t.Fatalf("confirm deactivation: %v", err)
	}
	if u, err := a.DB.Reader().UserByEmail(bg, bob.Email); err != nil || u.State != core.StateInactive {
		t.Errorf("Bob not deactivated (%v)", err)
	}
}

// waitLocation waits until the tab has loaded a page whose address ends in
// suffix. An evaluation the navigation interrupts is tried again.
func waitLocation(t *testing.T, ctx context.Context, suffix string, within time.Duration) {
	t.Helper()
	var loc string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.readyState`))
		if err == nil {
			loc = got
			if strings.HasSuffix(got, suffix+" complete") {
				return
			}
		}
	}
	t.Fatalf("at %s, not at …%s after %s", loc, suffix, within)
}

// TestWithoutJavaScript: with script execution off, the photo form still
// posts (choose a file, Upload), the profile form still saves with a page
// load, and a data-confirm form posts without asking.
func TestWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)
	const email = "nora@example.com"
	uxWorkspace(t, a.Accounts, "Nora Admin", email)
	noScript := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
	photoFile := writePNG(t)
	err := chromedp.Do(ctx,
		noScript,
		signIn(base, email),
		chromedp.WaitVisible(css(`label.photo-choose`)),
		chromedp.SetUploadFiles(css(`#photo-file`), []string{photoFile}),
		// Without script, CSS alone says a file was chosen.
		chromedp.WaitVisible(css(`.photo-chosen`)),
		chromedp.Click(css(`.photo-form button[type="submit"]`)),
		chromedp.WaitVisible(css(`.avatar-picker img.avatar`)),
		chromedp.WaitVisible(css(`main .alert-success`)),
	)
	if err != nil {
		t.Fatalf("upload without script: %v", err)
	}
	if got, err := chromedp.Run(ctx, chromedp.Text(css(`main .alert-success`))); err != nil || got != "Photo updated." {
		t.Errorf("flash %q (%v)", got, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Clear(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "Nora Sin Script"),
		chromedp.Click(css(`#details button[type="submit"]`)),
	)
	if err != nil {
		t.Fatalf("save without script: %v", err)
	}
	// The photo's page already shows a success alert, so wait for the save's
	// own page: the click returns before the navigation it starts.
	waitLocation(t, ctx, "/settings/profile?done=saved", 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`main .alert-success`))); err != nil {
		t.Fatalf("saved page: %v", err)
	}
	u, err := a.DB.Reader().UserByEmail(context.Background(), email)
	if err != nil || u.Name != "Nora Sin Script" || u.PhotoVersion == 0 {
		t.Fatalf("stored user %+v (%v)", u, err)
	}
	// Remove photo has no data-confirm; a password reset link for another
	// user does: without script it posts at once.
	bob, err := a.Accounts.CreateUser(context.Background(), account.CreateUserInput{Workspace: "Acme Sales", Name: "Bob Builder", Email: "bob@example.com",
		Password: uxPassword, Role: core.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/settings/users/"+strconv.FormatInt(bob.ID, 10)),
		chromedp.WaitVisible(css(`form[action$="/password-reset"] button`)),
		chromedp.Click(css(`form[action$="/password-reset"] button`)),
		chromedp.WaitVisible(css(`main .alert-success`)),
	)
	if err != nil {
		t.Fatalf("confirm form without script: %v", err)
	}
}
