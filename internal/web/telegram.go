package web

import (
	"context"
	"net/http"
	"strings"

	"roster/internal/core"
	"roster/internal/httpx"
	"roster/internal/i18n"
)

// TelegramLinks is the Telegram channel's linking flow as the pages use
// it (internal/notify/telegram implements it).
type TelegramLinks interface {
	// StartLink makes a one-time link that opens the bot with a token.
	StartLink(ctx context.Context, u *core.User) (string, error)
	// Connection is u's linked chat, nil when none.
	Connection(ctx context.Context, u *core.User) (*core.TelegramLink, error)
	Disconnect(ctx context.Context, u *core.User) error
	// BotUsername is false until Telegram has answered.
	BotUsername() (string, bool)
}

// telegramView is the Telegram part of the channel list.
type telegramView struct {
	Ready bool // the bot is known: a link can be made
	Link  *core.TelegramLink
}

func init() {
	flashes["telegram_disconnected"] = i18n.Key("telegram.disconnected")
}

// telegramConnectCSP lets the settings page's "Connect Telegram" form
// follow its redirect to t.me (form-action governs redirects too).
var telegramConnectCSP = strings.Replace(httpx.ContentSecurityPolicy, "form-action 'self'", "form-action 'self' https://t.me", 1)

// telegramState is the viewer's Telegram connection, nil when the channel
// is not configured.
func (h *Handler) telegramState(w http.ResponseWriter, r *http.Request, me *core.User) (*telegramView, error) {
	if h.deps.Telegram == nil {
		return nil, nil
	}
	w.Header().Set("Content-Security-Policy", telegramConnectCSP)
	l, err := h.deps.Telegram.Connection(r.Context(), me)
	if err != nil {
		return nil, err
	}
	_, ready := h.deps.Telegram.BotUsername()
	return &telegramView{Ready: ready, Link: l}, nil
}

// connectTelegram makes a one-time link and sends the browser to it: the
// Telegram app opens the bot, whose Start sends /start <token>.
func (h *Handler) connectTelegram(w http.ResponseWriter, r *http.Request) {
	if h.deps.Telegram == nil {
		h.fail(w, r, core.ErrNotFound)
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	link, err := h.deps.Telegram.StartLink(r.Context(), principalFrom(r.Context()).User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, link, http.StatusSeeOther)
}

func (h *Handler) disconnectTelegram(w http.ResponseWriter, r *http.Request) {
	if h.deps.Telegram == nil {
		h.fail(w, r, core.ErrNotFound)
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	if err := h.deps.Telegram.Disconnect(r.Context(), principalFrom(r.Context()).User); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, notifySettingsURL+"?done=telegram_disconnected")
}
