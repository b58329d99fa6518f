package e2e

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"roster/internal/account"
)

// writePNG writes a small photo to a temporary file and returns its path.
func writePNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 120))
	for y := range 120 {
		for x := range 160 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(2 * y), 180, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "me.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProfileSettings: on Settings → Profile settings, pick a photo (a
// preview shows; Save uploads it), change the name, the phone and the
// language, Save; the page turns Spanish in place, with the new values,
// the photo and a toast. (TestWithoutJavaScript covers the same without
// script.)
func TestProfileSettings(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)
	const email, pw = "irene@example.com", "tangerine-violin-42"
	if _, err := a.Accounts.Setup(context.Background(), account.SetupInput{Workspace: "Acme Sales", Timezone: "Europe/Madrid",
		Language: "en", Name: "Irene Admin", Email: email, Password: pw}); err != nil {
		t.Fatal(err)
	}
	photoFile := writePNG(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`input[name="email"]`)),
		chromedp.SendKeys(css(`input[name="email"]`), email),
		chromedp.SendKeys(css(`input[name="password"]`), pw),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
		// No photo yet: the initials show.
		chromedp.WaitVisible(css(`.avatar-picker span.avatar`)),
		// Picking a file shows the preview; Save uploads it.
		chromedp.SetUploadFiles(css(`#photo-file`), []string{photoFile}),
		chromedp.WaitVisible(css(`[data-photo-preview] img`)),
		chromedp.Click(css(`[data-photo-save]`)),
		chromedp.WaitVisible(css(`.avatar-picker img.avatar`)),
		chromedp.Clear(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "Irene Nueva"),
		chromedp.Clear(css(`#phone`)),
		chromedp.SendKeys(css(`#phone`), "+34 612 345 678"),
		chromedp.SetValue(css(`#language`), "es"),
		chromedp.Click(css(`#details button[type="submit"]`)),
		// The saved page is in Spanish, and says so in a toast.
		chromedp.WaitVisible(css(`html[lang="es"] #toasts .toast-success`)),
	)
	if err != nil {
		t.Fatalf("browser flow: %v", err)
	}

	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(location, "/settings/profile?done=saved") {
		t.Fatalf("after saving at %s (%v)", location, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	if toast, err := chromedp.Run(ctx, chromedp.Text(css(`#toasts .toast-success`))); err != nil || toast != "Perfil guardado." {
		t.Errorf("toast %q (%v)", toast, err)
	}
	for _, want := range []string{"Irene Nueva", "Idioma", "Teléfono", "Guardar"} {
		if !strings.Contains(text, want) {
			t.Errorf("saved page lacks %q:\n%s", want, text)
		}
	}
	name, err := chromedp.Run(ctx, chromedp.Value(css(`#name`)))
	if err != nil || name != "Irene Nueva" {
		t.Errorf("name field %q (%v)", name, err)
	}
	phone, err := chromedp.Run(ctx, chromedp.Value(css(`#phone`)))
	if err != nil || phone != "+34 612 34 56 78" {
		t.Errorf("phone field %q (%v)", phone, err)
	}
	lang, err := chromedp.Run(ctx, chromedp.Value(css(`#language`)))
	if err != nil || lang != "es" {
		t.Errorf("language field %q (%v)", lang, err)
	}
	src, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`.avatar-picker img.avatar`), "src"))
	if err != nil || !strings.HasPrefix(src.Value, "/photos/") {
		t.Errorf("avatar src %q (%v)", src.Value, err)
	}
	// The browser really loaded the image (the CSP allows it, the route serves it).
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`(() => { const i = document.querySelector(".avatar-picker img.avatar"); return i.complete && i.naturalWidth > 0; })()`))
	if err != nil || !loaded {
		t.Errorf("avatar image not loaded (%v)", err)
	}

	u, err := a.DB.Reader().UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Irene Nueva" || u.Phone != "+34612345678" || u.Language != "es" || u.PhotoVersion == 0 {
		t.Errorf("stored user: name %q phone %q language %q photo %d", u.Name, u.Phone, u.Language, u.PhotoVersion)
	}
}
