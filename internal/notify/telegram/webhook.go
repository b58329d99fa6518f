package telegram

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"

	"github.com/go-telegram/bot/models"
)

// SecretHeader carries the webhook's secret token on every call.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookHandler receives updates in webhook mode (POST WebhookPath). A
// call without the secret token set with setWebhook is refused with 403
// and changes nothing; without webhook mode every call is 404.
func (ch *Channel) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ch.c.Webhook {
			http.NotFound(w, r)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(SecretHeader)), []byte(ch.secret)) != 1 {
			ch.logger.WarnContext(r.Context(), "telegram webhook: wrong secret token")
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		var u models.Update
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&u); err != nil {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		if err := ch.apply(r.Context(), &u, false); err != nil {
			// Telegram delivers it again later.
			ch.logger.ErrorContext(r.Context(), "telegram webhook", "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
