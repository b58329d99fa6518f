package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
)

// TelegramLinks is the Telegram channel's linking flow as the API uses it
// (internal/notify/telegram implements it).
type TelegramLinks interface {
	StartLink(ctx context.Context, u *core.User) (string, error)
	Connection(ctx context.Context, u *core.User) (*core.TelegramLink, error)
	Disconnect(ctx context.Context, u *core.User) error
	BotUsername() (string, bool)
}

// TelegramConnection is the caller's Telegram connection.
type TelegramConnection struct {
	Available bool       `json:"available" doc:"The server has Telegram set up and Telegram answers: a link can be made."`
	Connected bool       `json:"connected"`
	Username  string     `json:"username,omitempty" doc:"The linked Telegram account's @name, without the @."`
	LinkedAt  *time.Time `json:"linked_at,omitempty"`
}

type telegramOutput struct{ Body TelegramConnection }

// TelegramLink is a one-time link that connects Telegram.
type TelegramLink struct {
	URL       string    `json:"url" doc:"https://t.me/<bot>?start=<token>: open it; pressing Start in the bot's chat links that chat to the caller."`
	ExpiresAt time.Time `json:"expires_at" doc:"The link works once, until then (15 minutes)."`
}

type telegramLinkOutput struct{ Body TelegramLink }

func (a *API) registerTelegram() {
	tags := []string{"Notifications"}
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "create-my-telegram-link", Method: http.MethodPost,
		Path: "/me/telegram-link", Summary: "Make a one-time link that connects my Telegram", DefaultStatus: http.StatusCreated,
		Description: "The token in the link is single-use and expires in 15 minutes. 409 when the server has no Telegram set up, " +
			"503 when Telegram cannot be reached now.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusConflict, http.StatusServiceUnavailable}}), a.createTelegramLink)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "get-my-telegram", Method: http.MethodGet, Path: "/me/telegram",
		Summary: "My Telegram connection", Tags: tags, Security: signedIn}), a.getTelegram)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "delete-my-telegram", Method: http.MethodDelete, Path: "/me/telegram",
		Summary: "Disconnect my Telegram", Description: "Notifications stop going there. Without a connection it does nothing.",
		DefaultStatus: http.StatusNoContent, Tags: tags, Security: signedIn, Errors: []int{http.StatusConflict}}), a.deleteTelegram)
}

// errTelegramNotConfigured: the operator has not given a bot token.
var errTelegramNotConfigured = core.Errorf(core.ECONFLICT, "telegram.not_configured")

func (a *API) createTelegramLink(ctx context.Context, _ *struct{}) (*telegramLinkOutput, error) {
	if a.deps.Telegram == nil {
		return nil, a.fail(ctx, errTelegramNotConfigured)
	}
	began := time.Now()
	link, err := a.deps.Telegram.StartLink(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &telegramLinkOutput{Body: TelegramLink{URL: link, ExpiresAt: began.Add(15 * time.Minute).UTC().Truncate(time.Second)}}, nil
}

func (a *API) getTelegram(ctx context.Context, _ *struct{}) (*telegramOutput, error) {
	out := &telegramOutput{}
	if a.deps.Telegram == nil {
		return out, nil
	}
	_, out.Body.Available = a.deps.Telegram.BotUsername()
	l, err := a.deps.Telegram.Connection(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	if l != nil {
		at := l.LinkedAt.UTC()
		out.Body.Connected, out.Body.Username, out.Body.LinkedAt = true, l.Username, &at
	}
	return out, nil
}

func (a *API) deleteTelegram(ctx context.Context, _ *struct{}) (*struct{}, error) {
	if a.deps.Telegram == nil {
		return nil, a.fail(ctx, errTelegramNotConfigured)
	}
	if err := a.deps.Telegram.Disconnect(ctx, principal(ctx).User); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}
