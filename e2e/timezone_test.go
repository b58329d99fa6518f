package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"roster/internal/account"
	"roster/internal/core"
)

// command runs one DevTools protocol command as a step.
func command[P, R any](c cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, c, params)
		return err
	})
}

var inviteLinkRE = regexp.MustCompile(`/invite/[A-Za-z0-9_-]+`)

// TestZoneSelectsTakeTheBrowsersZone: in a browser whose time zone is
// Asia/Jakarta, the setup page and the invitation page preselect it (the
// server alone offers UTC and the workspace's zone); on the invitation
// page, shown in Russian to a Russian browser, the language is Russian.
func TestZoneSelectsTakeTheBrowsersZone(t *testing.T) {
	ctx := browser(t)
	a, base := startRoster(t)

	zone := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(css(`select[name="timezone"]`)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	err := chromedp.Do(ctx,
		command(emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Jakarta"}),
		chromedp.Navigate(base+"/setup"),
		chromedp.WaitVisible(css(`select[name="timezone"]`)),
	)
	if err != nil {
		t.Fatalf("setup page: %v", err)
	}
	if got := zone(); got != "Asia/Jakarta" {
		t.Fatalf("setup page zone %q, want the browser's Asia/Jakarta", got)
	}

	// The workspace keeps another zone; the invitee's browser is in Jakarta.
	res, err := a.Accounts.Setup(context.Background(), account.SetupInput{Workspace: "Acme Sales", Timezone: "Europe/Madrid",
		Language: "en", Name: "Ana Admin", Email: "ana@example.com", Password: "tangerine-violin-42"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Accounts.Invite(context.Background(), res.User, account.InviteInput{Email: "irina@example.com", Role: core.RoleUser}); err != nil {
		t.Fatal(err)
	}
	var link string
	for deadline := time.Now().Add(20 * time.Second); link == ""; time.Sleep(50 * time.Millisecond) {
		mails, err := a.DB.Reader().OutboxMails(context.Background(), res.User.WorkspaceID, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mails {
			if m.To == "irina@example.com" {
				link = inviteLinkRE.FindString(m.Text)
			}
		}
		if link == "" && time.Now().After(deadline) {
			t.Fatal("no invitation mail in the dev outbox")
		}
	}
	err = chromedp.Do(ctx,
		command(network.Enable, network.EnableParams{}),
		command(network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "ru-RU,ru;q=0.9"}}),
		chromedp.Navigate(base+link),
		chromedp.WaitVisible(css(`select[name="timezone"]`)),
	)
	if err != nil {
		t.Fatalf("invitation page: %v", err)
	}
	if got := zone(); got != "Asia/Jakarta" {
		t.Fatalf("invitation page zone %q, want the browser's Asia/Jakarta", got)
	}
	lang, err := chromedp.Run(ctx, chromedp.Value(css(`select[name="language"]`)))
	if err != nil || lang != "ru" {
		t.Fatalf("invitation page language %q (%v), want ru", lang, err)
	}
}
