package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/mail/mailtest"
	"roster/internal/notify"
	"roster/internal/notify/mobile/pushtest"
	"roster/internal/notify/telegram/telegramtest"
	"roster/internal/notify/webpush/webpushtest"
	"roster/internal/store"
)

// TestChannelOutagesEndDelivered: every channel's peer is out at once, as
// in a long outage: the SMTP server refuses connections, FCM answers 503
// with Retry-After, APNs 500, the browser push service 429 with
// Retry-After, Telegram's Bot API 502. Events posted meanwhile keep their
// deliveries queued, attempted again and again with the error kept, none
// failed and none dropped; once the peers recover every delivery is sent
// and each peer has exactly one message per event.
//
// The wait between attempts is shortened (100 ms doubling to at most
// 1 s, instead of 2 s doubling to 30 min), so the test's seconds of outage
// are many attempts, as minutes are with the defaults; the 24-hour retry
// window is the default's. ROSTER_TEST_OUTAGE=3m runs a real outage of
// that length with the default waits instead (minutes per engine; not in
// make test).
func TestChannelOutagesEndDelivered(t *testing.T) {
	var long time.Duration
	retryBase, retryCap := 100*time.Millisecond, time.Second
	if v := os.Getenv("ROSTER_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("ROSTER_TEST_OUTAGE: %v", err)
		}
		long, retryBase, retryCap = d, 0, 0
	}
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		smtpd := mailtest.NewServer(t)
		smtpProxy := newCutProxy(t, smtpd.Addr())
		fcmd, apnsd := pushtest.NewFCM(t), pushtest.NewAPNs(t)
		pushd := webpushtest.NewService(t)
		tg := telegramtest.NewServer(t)
		tg.Slack = 100 * time.Millisecond
		r := start(t, engine, app.Config{
			SMTPURL: "smtp://" + smtpProxy.addr(), MailFrom: "roster@example.com",
			Mobile:      mobileSettings(t, fcmd, apnsd),
			BrowserPush: true, PushSubject: "mailto:ops@example.com", PushAllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			TelegramBotToken: tg.Token, TelegramAPIURL: tg.APIURL(),
			NotifyRetryBase: retryBase, NotifyRetryCap: retryCap,
		})
		_, bea, token := adminAndMember(t, r, "en")
		waitFor(t, "getMe", func() bool { _, ok := r.Telegram.BotUsername(); return ok })

		// Bea is reachable everywhere: her phones, her browser, her chat.
		status, body := apiCall(t, r, "POST", "/auth/login", "", `{"email":"bea@example.com","password":"tangerine-violin"}`)
		var login struct{ Token string }
		if status != http.StatusOK || json.Unmarshal(body, &login) != nil || login.Token == "" {
			t.Fatalf("login: %d %s", status, body)
		}
		for _, dev := range []string{`{"platform":"android","token":"` + e2eAndroidToken + `","app_version":"3.2.1"}`,
			`{"platform":"ios","token":"` + e2eAPNsToken + `","app_version":"3.2.1"}`} {
			if status, body := apiCall(t, r, "POST", "/me/devices", login.Token, dev); status != http.StatusOK {
				t.Fatalf("register: %d %s", status, body)
			}
		}
		sub := pushd.NewSubscription()
		if status, body := apiCall(t, r, "POST", "/me/push-subscriptions", login.Token,
			fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}`, sub.Endpoint, sub.P256dh, sub.Auth)); status != http.StatusCreated {
			t.Fatalf("subscribe: %d %s", status, body)
		}
		const chat = 4242
		if err := r.DB.Writer().LinkTelegram(ctx, core.TelegramLink{UserID: bea.ID, WorkspaceID: bea.WorkspaceID, ChatID: chat, LinkedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Notify.SaveSettings(ctx, bea, notify.SettingsInput{Cells: map[string]map[string]bool{"mention": {"telegram": true}}}); err != nil {
			t.Fatal(err)
		}

		// Everything out.
		smtpProxy.mu.Lock()
		smtpProxy.down = true
		smtpProxy.mu.Unlock()
		smtpProxy.closeAll()
		fcmd.Outage(pushtest.Answer{Status: 503, Reason: "UNAVAILABLE", RetryAfter: "1"})
		apnsd.Outage(pushtest.Answer{Status: 500, Reason: "InternalServerError"})
		pushd.Outage(http.StatusTooManyRequests, "1")
		tg.Down(true)

		const events = 5
		for i := range events {
			postEvent(t, r, token, fmt.Sprintf(`{"type":"mention","recipients":[%d],"data":{"from":"Ana","title":"Outage %d"}}`, bea.ID, i))
		}
		channels := []string{"email", "mobile", "browser", "telegram"}
		deliveries := func() map[string][]*core.Delivery {
			ds, err := r.DB.Reader().Deliveries(ctx, bea.WorkspaceID, bea.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string][]*core.Delivery{}
			for _, d := range ds {
				out[d.Channel] = append(out[d.Channel], d)
			}
			return out
		}
		// Each channel's deliveries have been tried several times and are
		// still queued with the peer's error.
		outageBegan := time.Now()
		waitUntil(t, "attempts during the outage", max(60*time.Second, 2*long), func() bool {
			byChannel := deliveries()
			for _, ch := range channels {
				if len(byChannel[ch]) != events {
					return false
				}
				for _, d := range byChannel[ch] {
					if d.Attempts < 3 {
						return false
					}
				}
			}
			return true
		})
		for time.Since(outageBegan) < long {
			time.Sleep(time.Second) // a real outage: minutes
		}
		attempts := 0
		for ch, ds := range deliveries() {
			if ch == "in_app" {
				continue
			}
			for _, d := range ds {
				if d.Status != core.DeliveryQueued || d.LastError == "" {
					t.Fatalf("%s during the outage: %+v", ch, d)
				}
				attempts += d.Attempts
			}
		}
		outage := time.Since(outageBegan)

		// Everything back.
		smtpProxy.mu.Lock()
		smtpProxy.down = false
		smtpProxy.mu.Unlock()
		fcmd.Recover()
		apnsd.Recover()
		pushd.Recover()
		tg.Down(false)
		recovered := time.Now()
		// By default the wait before an attempt grows to twice the time
		// failed so far (full jitter): allow that after a long outage.
		waitUntil(t, "every delivery sent after the outage", 60*time.Second+3*long, func() bool {
			byChannel := deliveries()
			for _, ch := range channels {
				for _, d := range byChannel[ch] {
					if d.Status == core.DeliveryQueued {
						return false
					}
				}
			}
			return true
		})
		t.Logf("outage of %v: %d attempts of %d deliveries; all sent %v after the peers came back",
			outage.Round(time.Second), attempts, events*len(channels), time.Since(recovered).Round(100*time.Millisecond))
		for _, ch := range channels {
			for _, d := range deliveries()[ch] {
				if d.Status != core.DeliverySent {
					t.Errorf("%s after the outage: %+v", ch, d)
				}
			}
		}
		for i := range events {
			title := fmt.Sprintf("Outage %d", i)
			in := func(body []byte) bool { return strings.Contains(string(body), title) }
			mails, fcm, apns, push, chats := 0, 0, 0, 0, 0
			for _, m := range smtpd.Messages() {
				if in(m.Data) {
					mails++
				}
			}
			for _, m := range fcmd.Received() {
				if in(m.Body) {
					fcm++
				}
			}
			for _, m := range apnsd.Received() {
				if in(m.Body) {
					apns++
				}
			}
			for _, p := range pushd.Accepted(sub.Endpoint) {
				if in(p.Payload) {
					push++
				}
			}
			for _, m := range tg.Messages() {
				if m.ChatID == chat && strings.Contains(m.Plain, title) {
					chats++
				}
			}
			if mails != 1 || fcm != 1 || apns != 1 || push != 1 || chats != 1 {
				t.Errorf("%s: %d mails, %d FCM, %d APNs, %d browser pushes, %d Telegram messages; want one each", title, mails, fcm, apns, push, chats)
			}
		}
		if v := append(append(fcmd.Violations(), apnsd.Violations()...), pushd.Violations()...); len(v) > 0 {
			t.Fatalf("protocol violations: %v", v)
		}
	})
}

// waitUntil is waitFor with its own bound.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
	}
}
