// Package e2e drives Roster in a real Chromium through chromedp: the flows a
// person performs, on the real binary's wiring.
package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"roster/internal/app"
	"roster/internal/notify/telegram/telegramtest"
	"roster/internal/testenv"
)

// chromium finds Debian's Chromium, or skips loudly (fails under
// ROSTER_TEST_STRICT=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("ROSTER_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.SkipOrFail(t, "Chromium is not installed (apt-get install -y chromium); browser tests did not run")
	return ""
}

func startRoster(t *testing.T) (*app.App, string) {
	t.Helper()
	return startRosterWith(t, nil)
}

// startRosterWith is startRoster with change applied to the configuration.
func startRosterWith(t *testing.T, change func(*app.Config)) (*app.App, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Telegram against a local Bot API server, so its part of the
	// notification settings is drawn; browser push on, as the binary has
	// it by default.
	bot := telegramtest.NewServer(t)
	cfg := app.Config{DataDir: filepath.Join(t.TempDir(), "data"), BaseURL: "http://" + ln.Addr().String(),
		TelegramBotToken: bot.Token, TelegramAPIURL: bot.APIURL(), BrowserPush: true}
	if change != nil {
		change(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	return a, cfg.BaseURL
}

func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWithin(t, 90*time.Second)
}

// browserWithin is browser for a test that needs longer than 90 seconds.
func browserWithin(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

type css = chromedp.CSS

// setLanguage changes a person's language as Roster's own writes do
// (through the store, so the caches of who is signed in hear of it).
func setLanguage(t *testing.T, a *app.App, userID int64, lang string) {
	t.Helper()
	ctx := context.Background()
	u, err := a.DB.Reader().User(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	u.Language = lang
	if err := a.DB.Writer().UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
}

// TestSetupSignInProfileInRussian: setup → sign out → sign in → the Profile
// settings page renders; after the user's language is switched to Russian it
// renders in Russian.
func TestSetupSignInProfileInRussian(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(css(`input[name="workspace"]`)),
		chromedp.SendKeys(css(`input[name="workspace"]`), "Acme Sales"),
		chromedp.SetValue(css(`select[name="timezone"]`), "Europe/Moscow"),
		chromedp.SetValue(css(`select[name="language"]`), "en"),
		chromedp.SendKeys(css(`input[name="name"]`), "Irina Petrova"),
		chromedp.SendKeys(css(`input[name="email"]`), "irina@example.com"),
		chromedp.SendKeys(css(`input[name="password"]`), "tangerine-violin-42"),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
		// Sign out, then sign in with the new account.
		// The profile page has an email field too (the new address), so
		// wait for the sign-in form's own.
		chromedp.Submit(css(`form[action="/logout"]`)),
		chromedp.WaitVisible(css(`form[action="/login"] input[name="email"]`)),
		chromedp.SendKeys(css(`form[action="/login"] input[name="email"]`), "irina@example.com"),
		chromedp.SendKeys(css(`form[action="/login"] input[name="password"]`), "tangerine-violin-42"),
		chromedp.Submit(css(`form[action="/login"] input[name="password"]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
	)
	if err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(location, "/settings/profile") {
		t.Fatalf("after sign-in at %s (%v)", location, err)
	}
	profileText, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Irina Petrova", "irina@example.com", "Europe/Moscow", "Profile"} {
		if !strings.Contains(profileText, want) {
			t.Fatalf("profile page lacks %q:\n%s", want, profileText)
		}
	}

	// Switch the user's language in the database, reload: Russian.
	irina, err := a.DB.Reader().UserByEmail(context.Background(), "irina@example.com")
	if err != nil {
		t.Fatal(err)
	}
	setLanguage(t, a, irina.ID, "ru")
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(css(`form[action="/logout"]`))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	lang, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`html`), "lang"))
	if err != nil {
		t.Fatal(err)
	}
	ruText, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	if lang.Value != "ru" || !strings.Contains(ruText, "Профиль") || !strings.Contains(ruText, "Irina Petrova") {
		t.Fatalf("page not in Russian (lang=%q):\n%s", lang.Value, ruText)
	}
}
