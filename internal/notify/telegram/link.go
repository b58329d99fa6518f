package telegram

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-telegram/bot/models"

	"roster/internal/core"
	"roster/internal/store"
)

// ErrUnreachable: Telegram has not answered yet (the bot's name is not
// known), so no link can be made now.
var ErrUnreachable = &core.Error{Code: core.EUNAVAILABLE, Key: "telegram.unreachable", RetryAfter: 30e9}

// StartLink makes a one-time token for u and returns the link that opens
// the bot with it: https://t.me/<bot>?start=<token>. The token is 32
// random bytes in base64url (43 characters, within Telegram's 64), stored
// only as its SHA-256, usable once within LinkTTL.
func (ch *Channel) StartLink(ctx context.Context, u *core.User) (string, error) {
	name, ok := ch.BotUsername()
	if !ok {
		return "", ErrUnreachable
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	if err := ch.c.DB.Writer().AddTelegramLinkToken(ctx, u.WorkspaceID, u.ID, tokenHash(token), ch.c.Now().Add(LinkTTL)); err != nil {
		return "", err
	}
	return "https://t.me/" + name + "?start=" + token, nil
}

// Connection returns u's link, nil when there is none.
func (ch *Channel) Connection(ctx context.Context, u *core.User) (*core.TelegramLink, error) {
	l, err := ch.c.DB.Reader().TelegramLink(ctx, u.WorkspaceID, u.ID)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil
	}
	return l, err
}

// Disconnect removes u's link; without one it does nothing.
func (ch *Channel) Disconnect(ctx context.Context, u *core.User) error {
	_, err := ch.c.DB.Writer().UnlinkTelegram(ctx, u.WorkspaceID, u.ID, 0)
	return err
}

// reply is a message to send once the update's changes committed.
type reply struct {
	chat int64
	text string
}

// command splits "/start@RosterBot abc" into "/start" and "abc".
func command(text string) (cmd, arg string) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return "", ""
	}
	cmd, arg, _ = strings.Cut(text, " ")
	cmd, _, _ = strings.Cut(cmd, "@")
	return strings.ToLower(cmd), strings.TrimSpace(arg)
}

// handle applies one update inside q's transaction and returns what to
// answer. /start <token> links the chat to the token's owner; /stop
// unlinks every link of the chat. Anything else is ignored.
func (ch *Channel) handle(ctx context.Context, q *store.Q, u *models.Update) (*reply, error) {
	msg := u.Message
	if msg == nil || msg.From == nil || msg.From.IsBot {
		return nil, nil
	}
	lang := msg.From.LanguageCode // Telegram's, until we know the person
	cmd, arg := command(msg.Text)
	switch cmd {
	case "/start":
		if arg == "" {
			return &reply{chat: msg.Chat.ID, text: ch.c.Texts(lang).T("telegram.start.hello")}, nil
		}
		wsID, userID, ok, err := q.ClaimTelegramLinkToken(ctx, tokenHash(arg), ch.c.Now())
		if err != nil {
			return nil, err
		}
		if !ok {
			return &reply{chat: msg.Chat.ID, text: ch.c.Texts(lang).T("telegram.start.invalid")}, nil
		}
		user, err := q.UserInWorkspace(ctx, wsID, userID)
		if errors.Is(err, core.ErrNotFound) {
			return &reply{chat: msg.Chat.ID, text: ch.c.Texts(lang).T("telegram.start.invalid")}, nil
		}
		if err != nil {
			return nil, err
		}
		username := msg.From.Username
		if err := q.LinkTelegram(ctx, core.TelegramLink{UserID: user.ID, WorkspaceID: wsID, ChatID: msg.Chat.ID,
			Username: username, LinkedAt: ch.c.Now()}); err != nil {
			return nil, err
		}
		ch.logger.InfoContext(ctx, "telegram linked", "user_id", user.ID, "workspace_id", wsID)
		return &reply{chat: msg.Chat.ID, text: ch.c.Texts(user.Language).T("telegram.start.linked", map[string]any{"Name": user.Name})}, nil
	case "/stop":
		gone, err := q.UnlinkTelegramChat(ctx, msg.Chat.ID)
		if err != nil {
			return nil, err
		}
		if len(gone) == 0 {
			return &reply{chat: msg.Chat.ID, text: ch.c.Texts(lang).T("telegram.stop.none")}, nil
		}
		if user, err := q.UserInWorkspace(ctx, gone[0].WorkspaceID, gone[0].UserID); err == nil {
			lang = user.Language
		}
		ch.logger.InfoContext(ctx, "telegram unlinked by /stop", "links", len(gone))
		return &reply{chat: msg.Chat.ID, text: ch.c.Texts(lang).T("telegram.stop.done")}, nil
	}
	return nil, nil
}

// apply handles u in one transaction; with offset set (long polling) the
// stored offset moves past u in the same transaction, so an update's
// changes and its being done commit together. The reply goes after the
// commit.
func (ch *Channel) apply(ctx context.Context, u *models.Update, offset bool) error {
	var r *reply
	err := ch.c.DB.InTx(ctx, func(q *store.Q) error {
		var err error
		if r, err = ch.handle(ctx, q, u); err != nil {
			return err
		}
		if offset {
			return q.SetTelegramOffset(ctx, ch.botID, u.ID+1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("telegram update %d: %w", u.ID, err)
	}
	if r != nil {
		if err := ch.send(ctx, r.chat, escapeText(r.text), nil, true); err != nil {
			// The change is made; only the courtesy message is lost.
			ch.logger.WarnContext(ctx, "telegram reply not sent", "err", err)
		}
	}
	return nil
}

// escapeText escapes a translated plain message for HTML parse mode.
func escapeText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
