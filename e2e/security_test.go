package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"roster/internal/account"
	"roster/internal/testenv"
)

// totpCode asks the real oathtool for the code of key at t, as a phone
// app would compute it.
func totpCode(t *testing.T, key string, at time.Time) string {
	t.Helper()
	bin, err := exec.LookPath("oathtool")
	if err != nil {
		testenv.SkipOrFail(t, "oathtool is not installed (apt-get install -y oathtool); the two-step browser test did not run")
	}
	out, err := exec.Command(bin, "--totp", "-b", key, "-N", "@"+strconv.FormatInt(at.Unix(), 10)).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestTwoFactorInBrowser: turn on the authenticator app from Settings →
// Security with the key shown on the page, see the backup codes, sign out,
// sign in with the password and a fresh code, see the sessions, and turn
// two-step verification off with the password and a backup code.
func TestTwoFactorInBrowser(t *testing.T) {
	if _, err := exec.LookPath("oathtool"); err != nil {
		testenv.SkipOrFail(t, "oathtool is not installed (apt-get install -y oathtool); the two-step browser test did not run")
	}
	ctx := browser(t)
	a, base := startRoster(t)
	const email, pw = "tomas@example.com", "tangerine-violin-42"
	if _, err := a.Accounts.Setup(context.Background(), account.SetupInput{Workspace: "Acme Sales", Timezone: "Europe/Madrid",
		Language: "en", Name: "Tomás Admin", Email: email, Password: pw}); err != nil {
		t.Fatal(err)
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`input[name="email"]`)),
		chromedp.SendKeys(css(`input[name="email"]`), email),
		chromedp.SendKeys(css(`input[name="password"]`), pw),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
		chromedp.Navigate(base+"/settings/security"),
		chromedp.WaitVisible(css(`#totp-password`)),
		chromedp.SendKeys(css(`#totp-password`), pw),
		chromedp.Submit(css(`#totp-password`)),
		chromedp.WaitVisible(css(`#totp-secret`)),
		chromedp.WaitVisible(css(`img.qr`)),
	)
	if err != nil {
		t.Fatalf("start authenticator setup: %v", err)
	}
	key, err := chromedp.Run(ctx, chromedp.Text(css(`#totp-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	enabledAt := time.Now()
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`#totp-code`), totpCode(t, key, enabledAt)),
		chromedp.Submit(css(`#totp-code`)),
		chromedp.WaitVisible(css(`#backup-codes`)),
	)
	if err != nil {
		t.Fatalf("confirm authenticator: %v", err)
	}
	items, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(`#backup-codes li`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 10 {
		t.Fatalf("%d backup codes shown, want 10", len(items))
	}
	list, err := chromedp.Run(ctx, chromedp.Text(css(`#backup-codes`)))
	if err != nil {
		t.Fatal(err)
	}
	codes := strings.Fields(list)
	if len(codes) != 10 {
		t.Fatalf("backup codes text: %q", list)
	}
	download, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`a[download="roster-backup-codes.txt"]`), "href"))
	if err != nil || !strings.HasPrefix(download.Value, "data:text/plain") || !strings.Contains(download.Value, codes[0]) {
		t.Fatalf("download link %q (%v)", download.Value, err)
	}

	// Sign out, then sign in: the password leads to the code page.
	err = chromedp.Do(ctx,
		chromedp.Submit(css(`form[action="/logout"]`)),
		chromedp.WaitVisible(css(`form[action="/login"] input[name="email"]`)),
		chromedp.SendKeys(css(`form[action="/login"] input[name="email"]`), email),
		chromedp.SendKeys(css(`form[action="/login"] input[name="password"]`), pw),
		chromedp.Submit(css(`form[action="/login"] input[name="password"]`)),
		chromedp.WaitVisible(css(`input[name="code"]`)),
	)
	if err != nil {
		t.Fatalf("sign in with password: %v", err)
	}
	// The code used to turn the app on cannot be used again: wait for the
	// next 30-second step and use its code.
	next := time.Unix((enabledAt.Unix()/30+1)*30, 0).Add(time.Second)
	time.Sleep(time.Until(next))
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`input[name="code"]`), totpCode(t, key, time.Now())),
		chromedp.Submit(css(`input[name="code"]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
		chromedp.Navigate(base+"/settings/security"),
		chromedp.WaitVisible(css(`#sessions`)),
	)
	if err != nil {
		t.Fatalf("sign in with a code: %v", err)
	}
	sessions, err := chromedp.Run(ctx, chromedp.Text(css(`#sessions`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sessions, "This device") || !strings.Contains(sessions, "127.0.0.1") {
		t.Fatalf("sessions list:\n%s", sessions)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(css(`#two-factor`)))
	if err != nil || !strings.Contains(status, "10 backup codes left.") {
		t.Fatalf("status:\n%s (%v)", status, err)
	}

	// Turn it off with the password and a backup code (in the app's card,
	// behind "Turn off…").
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#totp details.method-action > summary`)),
		chromedp.SendKeys(css(`#disable-totp-password`), pw),
		chromedp.SendKeys(css(`#disable-totp-code`), codes[0]),
		chromedp.Submit(css(`#disable-totp-code`)),
		chromedp.WaitVisible(css(`#totp-password`)),
	)
	if err != nil {
		t.Fatalf("turn off: %v", err)
	}
	main, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(main, "The method was turned off.") || strings.Contains(main, "backup codes left") {
		t.Fatalf("after turning off:\n%s", main)
	}
	if u, err := a.DB.Reader().UserByEmail(context.Background(), email); err != nil || u.TwoFactorEnabled {
		t.Fatalf("two-step verification still on: %v", err)
	}
}
