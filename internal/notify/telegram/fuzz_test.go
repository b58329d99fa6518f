package telegram_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"roster/internal/notify/telegram"
	"roster/internal/notify/telegram/telegramtest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// FuzzWebhook posts any bytes, with the right secret, as a Telegram
// update to the webhook: the answer is 200 or 400, never a 5xx (Telegram
// would send it again for ever) nor a panic, and Ana's chat is linked
// only by an update that carries her link's token.
func FuzzWebhook(f *testing.F) {
	db := storetest.Open(f, store.SQLite)
	ana, _ := people(f, db)
	srv := telegramtest.NewServer(f)
	fx := start(f, db, srv, func(c *telegram.Config) { c.Webhook, c.BaseURL = true, "https://roster.example.com" })
	fx.ready(f)
	var secret string
	waitFor(f, "setWebhook", func() bool { _, secret = srv.Webhook(); return secret != "" })
	// A link waiting for Ana's /start: its token is not among the inputs.
	if _, err := fx.ch.StartLink(context.Background(), ana); err != nil {
		f.Fatal(err)
	}
	for _, body := range [][]byte{
		srv.Update(telegramtest.Text{ChatID: 7, UserID: 7, Text: "/start"}),
		srv.Update(telegramtest.Text{ChatID: 7, UserID: 7, Text: "/start not-a-token"}),
		srv.Update(telegramtest.Text{ChatID: 7, UserID: 7, Text: "/stop"}),
		srv.Update(telegramtest.Text{ChatID: -100, UserID: 7, Text: "/START@RosterTestBot  x "}),
		srv.Update(telegramtest.Text{ChatID: 7, UserID: 7, Text: "hello"}),
		[]byte(`{"update_id":1,"message":{"message_id":1,"chat":{"id":1},"text":"/start x"}}`),
		[]byte(`{"update_id":1,"message":{"from":{"id":1,"is_bot":true},"chat":{"id":1},"text":"/stop"}}`),
		[]byte(`{"update_id":-1}`), []byte(`[]`), []byte(``), []byte(`{"message":null}`),
	} {
		f.Add(body)
	}
	h := fx.ch.WebhookHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, telegram.WebhookPath, bytes.NewReader(body))
		req.Header.Set(telegram.SecretHeader, secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("update %q: %d %s", body, w.Code, w.Body)
		}
		if l, err := fx.ch.Connection(context.Background(), ana); err != nil || l != nil {
			t.Fatalf("update %q linked Ana (%+v, %v) without her token", body, l, err)
		}
	})
}
