package telegram

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"roster/internal/store"
)

// Run keeps the channel connected until ctx ends: it asks Telegram who
// the bot is (getMe) until it answers, then either registers the webhook
// or, when this instance is the leader, polls getUpdates. A Telegram that
// cannot be reached is logged and tried again every RetryEvery; it never
// stops Roster. Run returns when ctx ends, with every request it made
// finished.
func (ch *Channel) Run(ctx context.Context) {
	ran := false
	ch.runOnce.Do(func() { ran = true })
	if !ran {
		panic("telegram: Run called twice")
	}
	if !ch.identify(ctx) {
		return
	}
	if ch.c.Webhook {
		ch.registerWebhook(ctx)
		<-ctx.Done()
		return
	}
	for ctx.Err() == nil {
		lead, err := ch.lead(ctx)
		if err != nil {
			ch.logger.WarnContext(ctx, "telegram: cannot take the polling lock", "err", err)
		}
		if lead != nil {
			ch.poll(ctx, lead)
			lead.release()
		}
		if sleep(ctx, ch.c.RetryEvery) != nil {
			return
		}
	}
}

// identify calls getMe until it answers or ctx ends.
func (ch *Channel) identify(ctx context.Context) bool {
	for wait := min(time.Second, ch.c.RetryEvery); ; wait = min(wait*2, ch.c.RetryEvery) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		me, err := ch.bot.GetMe(cctx)
		cancel()
		if err == nil && me.Username != "" {
			name := me.Username
			ch.username.Store(&name)
			ch.logger.InfoContext(ctx, "telegram bot ready", "bot", "@"+name, "webhook", ch.c.Webhook)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		ch.logger.WarnContext(ctx, "telegram unreachable: the channel is unavailable until it answers", "err", ch.redact(err), "retry_in", wait)
		if sleep(ctx, wait) != nil {
			return false
		}
	}
}

// registerWebhook sets the webhook (with the shared secret token) until
// Telegram accepts it or ctx ends.
func (ch *Channel) registerWebhook(ctx context.Context) {
	hook := ch.c.BaseURL + WebhookPath
	for wait := min(time.Second, ch.c.RetryEvery); ; wait = min(wait*2, ch.c.RetryEvery) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := ch.bot.SetWebhook(cctx, &bot.SetWebhookParams{URL: hook, SecretToken: ch.secret, AllowedUpdates: []string{"message"}})
		cancel()
		if err == nil {
			ch.logger.InfoContext(ctx, "telegram webhook set", "url", hook)
			return
		}
		if ctx.Err() != nil {
			return
		}
		ch.logger.WarnContext(ctx, "telegram: setWebhook failed", "err", ch.redact(err), "retry_in", wait)
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

// leadership is this instance's right to poll.
type leadership struct {
	conn *sql.Conn // PostgreSQL: the session holding the advisory lock
	key  int64
}

// held checks the lock's session is still alive (a session-level lock
// lives exactly as long as its session).
func (l *leadership) held(ctx context.Context) bool {
	if l.conn == nil {
		return true
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return l.conn.PingContext(cctx) == nil
}

func (l *leadership) release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", l.key)
	_ = l.conn.Close()
}

// lead makes this instance the poller if no other is: on PostgreSQL by a
// session-level advisory lock held on a connection of its own; SQLite is
// one instance. nil: another instance polls.
func (ch *Channel) lead(ctx context.Context) (*leadership, error) {
	db := ch.c.DB
	if db.Engine != store.Postgres {
		return &leadership{}, nil
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "roster/telegram/poll/%d", ch.botID)
	key := int64(h.Sum64())
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil || !got {
		_ = conn.Close()
		return nil, err
	}
	return &leadership{conn: conn, key: key}, nil
}

// poll long-polls getUpdates while ctx lasts and this instance leads,
// handling each update with the stored offset moved past it.
func (ch *Channel) poll(ctx context.Context, lead *leadership) {
	// A webhook left set (a switch from webhook mode) makes getUpdates
	// fail with 409.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := ch.bot.DeleteWebhook(cctx, &bot.DeleteWebhookParams{}); err != nil && ctx.Err() == nil {
		ch.logger.WarnContext(ctx, "telegram: deleteWebhook failed", "err", ch.redact(err))
	}
	cancel()
	ch.logger.InfoContext(ctx, "telegram: this instance polls for updates")
	failures := 0
	for ctx.Err() == nil && lead.held(ctx) {
		offset, err := ch.c.DB.Writer().TelegramOffset(ctx, ch.botID)
		var updates []models.Update
		if err == nil {
			updates, err = ch.getUpdates(ctx, offset)
		}
		for i := 0; err == nil && i < len(updates); i++ {
			err = ch.apply(ctx, &updates[i], true)
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		wait := min(time.Second<<min(failures-1, 5), ch.c.RetryEvery)
		var tooMany *apiError
		if errors.As(err, &tooMany) && tooMany.RetryAfter > 0 {
			wait = retryAfter(tooMany.RetryAfter)
		}
		ch.logger.WarnContext(ctx, "telegram: getUpdates failed", "err", ch.redact(err), "retry_in", wait)
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

// apiError is a Bot API answer with ok false.
type apiError struct {
	Code        int
	Description string
	RetryAfter  int
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram: %d %s", e.Code, e.Description)
}

// getUpdates asks for the updates from offset on, waiting up to
// PollTimeout for one to come.
func (ch *Channel) getUpdates(ctx context.Context, offset int64) ([]models.Update, error) {
	body, _ := json.Marshal(map[string]any{"offset": offset, "timeout": int(ch.c.PollTimeout / time.Second),
		"allowed_updates": []string{"message"}})
	cctx, cancel := context.WithTimeout(ctx, ch.c.PollTimeout+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, ch.api+"/bot"+ch.c.Token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, ch.redact(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := ch.client.Do(req)
	if err != nil {
		return nil, ch.redact(err)
	}
	defer res.Body.Close()
	var out struct {
		OK          bool            `json:"ok"`
		Result      []models.Update `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("telegram: getUpdates answered %d: %w", res.StatusCode, err)
	}
	if !out.OK {
		code := out.ErrorCode
		if code == 0 {
			code = res.StatusCode
		}
		return nil, &apiError{Code: code, Description: out.Description, RetryAfter: out.Parameters.RetryAfter}
	}
	return out.Result, nil
}
