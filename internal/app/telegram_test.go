package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/notify/telegram/telegramtest"
	"roster/internal/store"
)

// TestNotificationTelegram: the whole Telegram channel through the real
// app, queue and pages against a local Bot API server. Bea presses
// "+ Connect Telegram" (a form that redirects to t.me with a token); the
// forged /start <token> update, read by long polling, links her chat and
// the page says "Connected as @bea_tg". An event posted with an API token
// reaches the server's sendMessage. A temporary failure then success gives
// one message; a permanent one fails the delivery with the error; a
// blocked bot fails it and unlinks, and the page offers to connect again.
// The API makes a link, shows and removes the connection.
func TestNotificationTelegram(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		srv := telegramtest.NewServer(t)
		srv.Slack = 100 * time.Millisecond // on the wall clock a request may be delayed on its way
		r := start(t, engine, app.Config{TelegramBotToken: srv.Token, TelegramAPIURL: srv.APIURL()})
		setup, bea, token := adminAndMember(t, r, "es")
		waitFor(t, "getMe", func() bool { _, ok := r.Telegram.BotUsername(); return ok })
		if _, err := r.Notify.SaveSettings(ctx, bea, notify.SettingsInput{Cells: map[string]map[string]bool{"task.assigned": {"telegram": true}}}); err != nil {
			t.Fatal(err)
		}
		if resp, _ := r.post(t, "/login", url.Values{"email": {"bea@example.com"}, "password": {"tangerine-violin"}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
		_, page := r.get(t, "/settings/notifications")
		if !strings.Contains(page, "+ Conectar Telegram") || !strings.Contains(page, `form="telegram-connect"`) {
			t.Fatal("the page offers no Connect Telegram")
		}
		// The form's answer is a redirect to t.me; not followed.
		noFollow := &http.Client{Jar: r.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		connect := func() string {
			t.Helper()
			resp, err := noFollow.PostForm(r.URL+"/settings/notifications/telegram", url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "https://t.me/RosterTestBot?start=") {
				t.Fatalf("connect: %d to %q", resp.StatusCode, loc)
			}
			return strings.TrimPrefix(loc, "https://t.me/RosterTestBot?start=")
		}
		const chat = 9001
		srv.Send(telegramtest.Text{ChatID: chat, UserID: chat, Username: "bea_tg", Language: "en", Text: "/start " + connect()})
		if m := srv.WaitFor(t, 1, 10*time.Second)[0]; m.ChatID != chat || !strings.Contains(m.Plain, "¡Listo, Bea!") {
			t.Fatalf("reply: %+v", m)
		}
		_, page = r.get(t, "/settings/notifications")
		if !strings.Contains(page, "Conectado como @bea_tg") || !strings.Contains(page, "Desconectar") {
			t.Fatal("the page does not show the connection")
		}

		telegramDelivery := func(count int) *core.Delivery {
			t.Helper()
			var d *core.Delivery
			waitFor(t, "the telegram delivery to settle", func() bool {
				ds, _ := r.DB.Reader().Deliveries(ctx, bea.WorkspaceID, bea.ID, 0, 100)
				var tg []*core.Delivery
				for _, x := range ds {
					if x.Channel == "telegram" {
						tg = append(tg, x)
					}
				}
				if len(tg) < count {
					return false
				}
				d = tg[0] // newest
				return d.Status != core.DeliveryQueued
			})
			return d
		}
		event := func(title string) {
			postEvent(t, r, token, fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":%q,"from":"Ana","url":"https://crm.example/tasks/7"}}`, bea.ID, title))
		}
		event("Llamar a <Globex>")
		m := srv.WaitFor(t, 2, 10*time.Second)[1]
		if m.ChatID != chat || !strings.Contains(m.Plain, "Llamar a <Globex>") || !strings.Contains(m.Text, "Llamar a &lt;Globex&gt;") ||
			m.ButtonURL != "https://crm.example/tasks/7" || m.ButtonText != "Abrir" {
			t.Fatalf("notification: %+v", m)
		}
		if d := telegramDelivery(1); d.Status != core.DeliverySent || d.Attempts != 1 {
			t.Fatalf("delivery: %+v", d)
		}

		// Temporary failure, then success: one message, sent after 2 attempts.
		srv.Fail(chat, telegramtest.Failure{Status: 502, Description: "Bad Gateway"})
		event("Initech")
		if d := telegramDelivery(2); d.Status != core.DeliverySent || d.Attempts != 2 {
			t.Fatalf("after a 502: %+v", d)
		}
		got := 0
		for _, m := range srv.Messages() {
			if strings.Contains(m.Plain, "Initech") {
				got++
			}
		}
		if got != 1 {
			t.Fatalf("%d messages after a temporary failure, want 1", got)
		}
		// Permanent: failed with the error, visibly.
		srv.Fail(chat, telegramtest.Failure{Status: 400, Description: "Bad Request: message is too long"})
		event("Hooli")
		if d := telegramDelivery(3); d.Status != core.DeliveryFailed || !strings.Contains(d.LastError, "message is too long") {
			t.Fatalf("after a 400: %+v", d)
		}
		// Blocked: failed, unlinked, and the page offers to connect again.
		srv.Block(chat)
		event("Umbrella")
		if d := telegramDelivery(4); d.Status != core.DeliveryFailed || !strings.Contains(d.LastError, "blocked") {
			t.Fatalf("after a block: %+v", d)
		}
		waitFor(t, "the unlink", func() bool { l, _ := r.Telegram.Connection(ctx, bea); return l == nil })
		_, page = r.get(t, "/settings/notifications")
		if strings.Contains(page, "Conectado como") || !strings.Contains(page, "+ Conectar Telegram") {
			t.Fatal("the page still shows the blocked chat connected")
		}
		states, _ := r.Notify.ChannelStates(ctx, bea)
		for _, s := range states {
			if s.Channel == notify.Telegram && (s.Usable || s.Reason != notify.UnusableNotConnected) {
				t.Fatalf("telegram state after a block: %+v", s)
			}
		}
		// Reconnect, then Disconnect by the page's form.
		srv.Send(telegramtest.Text{ChatID: chat + 1, UserID: chat + 1, Username: "bea_tg", Text: "/start " + connect()})
		waitFor(t, "the relink", func() bool { l, _ := r.Telegram.Connection(ctx, bea); return l != nil })
		resp, page := r.post(t, "/settings/notifications/telegram/disconnect", url.Values{})
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.RawQuery, "done=telegram_disconnected") ||
			!strings.Contains(page, "+ Conectar Telegram") {
			t.Fatalf("disconnect: %d at %s", resp.StatusCode, resp.Request.URL)
		}
		if l, _ := r.Telegram.Connection(ctx, bea); l != nil {
			t.Fatalf("still linked: %+v", l)
		}

		// The API, as Ana.
		api := func(method, path string) (int, map[string]any) {
			req, _ := http.NewRequest(method, r.URL+"/api/v1"+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			return res.StatusCode, body
		}
		if code, body := api("GET", "/me/telegram"); code != http.StatusOK || body["available"] != true || body["connected"] != false {
			t.Fatalf("GET before: %d %v", code, body)
		}
		code, body := api("POST", "/me/telegram-link")
		link, _ := body["url"].(string)
		if code != http.StatusCreated || !strings.HasPrefix(link, "https://t.me/RosterTestBot?start=") {
			t.Fatalf("POST link: %d %v", code, body)
		}
		srv.Send(telegramtest.Text{ChatID: 9100, UserID: 9100, Username: "ana_tg", Text: "/start " + strings.TrimPrefix(link, "https://t.me/RosterTestBot?start=")})
		waitFor(t, "Ana's link", func() bool { l, _ := r.Telegram.Connection(ctx, setup.User); return l != nil })
		if code, body := api("GET", "/me/telegram"); code != http.StatusOK || body["connected"] != true || body["username"] != "ana_tg" {
			t.Fatalf("GET linked: %d %v", code, body)
		}
		if code, _ := api("DELETE", "/me/telegram"); code != http.StatusNoContent {
			t.Fatalf("DELETE: %d", code)
		}
		if code, body := api("GET", "/me/telegram"); code != http.StatusOK || body["connected"] != false {
			t.Fatalf("GET after DELETE: %d %v", code, body)
		}
	})
}

// TestTelegramNotConfigured: without a bot token there is no adapter:
// the channel is unavailable (not_configured), the page offers nothing,
// the API says 409, and the webhook path does not exist.
func TestTelegramNotConfigured(t *testing.T) {
	r := start(t, store.SQLite, app.Config{})
	_, bea, token := adminAndMember(t, r, "en")
	states, _ := r.Notify.ChannelStates(context.Background(), bea)
	for _, s := range states {
		if s.Channel == notify.Telegram && s.Reason != notify.UnusableNotConfigured {
			t.Fatalf("telegram state: %+v", s)
		}
	}
	req, _ := http.NewRequest("POST", r.URL+"/api/v1/me/telegram-link", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusConflict {
		t.Fatalf("link without Telegram: %v %v", res, err)
	}
	res.Body.Close()
	res, err = http.Post(r.URL+"/telegram/webhook", "application/json", strings.NewReader(`{}`))
	if err != nil || res.StatusCode == http.StatusOK {
		t.Fatalf("webhook without Telegram: %v %v", res, err)
	}
	res.Body.Close()
	if r.Telegram != nil {
		t.Fatal("a Telegram channel without a token")
	}
}
