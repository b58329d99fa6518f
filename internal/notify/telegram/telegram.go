// Package telegram is the Telegram channel of notifications: a person
// links a chat through a one-time "Connect Telegram" link (t.me/<bot>?start=
// <token>), Roster hears the /start over long polling (one instance polls,
// the leader) or a webhook, and sends each delivery with sendMessage within
// Telegram's rate limits. /stop, or a bot blocked by the person, unlinks.
//
// Sending, getMe and setWebhook go through github.com/go-telegram/bot.
// getUpdates and the webhook endpoint are written here on net/http: the
// library's polling loop keeps its offset in memory and runs on its own
// goroutines, where Roster needs the offset stored with what each update
// changed (so a restart does not handle an update twice) and polling only
// while this instance is the leader; its webhook handler answers 200 to a
// wrong secret token, where ours refuses it.
package telegram

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
)

// DefaultAPIURL is the official Bot API.
const DefaultAPIURL = "https://api.telegram.org"

// MaxText is the longest text sendMessage takes, in characters (UTF-16
// code units) after entity parsing.
const MaxText = 4096

// WebhookPath is where Telegram posts updates in webhook mode.
const WebhookPath = "/telegram/webhook"

// LinkTTL is how long a "Connect Telegram" link works.
const LinkTTL = 15 * time.Minute

// Config is what the channel is built from.
type Config struct {
	Token   string // the bot's token (secret: never logged)
	APIURL  string // the Bot API base; default DefaultAPIURL
	BaseURL string // Roster's public URL
	// Webhook: receive updates by webhook at BaseURL+WebhookPath instead
	// of long polling; needs a public https BaseURL.
	Webhook bool
	DB      *store.DB
	Texts   func(lang string) notify.Translator
	// MAC derives the webhook's secret token from the secret key, so every
	// instance sets and checks the same one (secrets.Box.MAC).
	MAC        func(string) []byte
	HTTPClient *http.Client // default: a client of its own
	Logger     *slog.Logger
	Limits     Limits           // zero: DefaultLimits
	Now        func() time.Time // default time.Now (token expiry)
	// PollTimeout is getUpdates' long-polling timeout; default 50 s.
	PollTimeout time.Duration
	// RetryEvery is how often an unreachable Bot API (getMe, setWebhook)
	// is tried again and a non-leader tries to become the poller;
	// default 15 s.
	RetryEvery time.Duration
}

// Channel is the Telegram channel: the notify.Adapter, the linking flow
// and the receiver of updates.
type Channel struct {
	c       Config
	bot     *bot.Bot
	botID   int64
	api     string // APIURL without a trailing slash
	client  *http.Client
	limiter *limiter
	logger  *slog.Logger
	secret  string // the webhook's secret token

	username atomic.Pointer[string] // from getMe; nil until Telegram answered
	runOnce  sync.Once
}

var (
	_ notify.Adapter  = (*Channel)(nil)
	_ notify.Unlinker = (*Channel)(nil)
)

// New returns the channel. It does not reach Telegram: Run does, and keeps
// trying while Telegram cannot be reached.
func New(c Config) (*Channel, error) {
	if c.Token == "" || c.DB == nil || c.Texts == nil || c.MAC == nil {
		return nil, errors.New("telegram: Config needs Token, DB, Texts and MAC")
	}
	botID, err := strconv.ParseInt(strings.SplitN(c.Token, ":", 2)[0], 10, 64)
	if err != nil || !strings.Contains(c.Token, ":") {
		return nil, errors.New("telegram: the bot token must look like 123456:ABC... (as BotFather gives it)")
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	api, err := url.Parse(c.APIURL)
	if err != nil || (api.Scheme != "http" && api.Scheme != "https") || api.Host == "" {
		return nil, fmt.Errorf("telegram: API URL %q must be an absolute http(s) URL", c.APIURL)
	}
	if c.Webhook && !PublicHTTPS(c.BaseURL) {
		return nil, fmt.Errorf("telegram: the webhook needs a public https base URL (--base-url), not %q; "+
			"leave --telegram-webhook off to receive updates by long polling", c.BaseURL)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Limits == (Limits{}) {
		c.Limits = DefaultLimits
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 50 * time.Second
	}
	if c.RetryEvery <= 0 {
		c.RetryEvery = 15 * time.Second
	}
	client := c.HTTPClient
	if client == nil {
		// No client timeout: each call has its own deadline (getUpdates
		// waits up to PollTimeout).
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	ch := &Channel{c: c, botID: botID, api: strings.TrimSuffix(c.APIURL, "/"), client: client, logger: c.Logger.With("channel", "telegram"),
		limiter: newLimiter(c.Limits, time.Now)}
	ch.secret = base64.RawURLEncoding.EncodeToString(c.MAC("telegram-webhook:" + strconv.FormatInt(botID, 10)))
	ch.bot, err = bot.New(c.Token, bot.WithSkipGetMe(), bot.WithServerURL(ch.api), bot.WithHTTPClient(c.PollTimeout, client),
		bot.WithErrorsHandler(func(err error) { ch.logger.Warn("telegram library", "err", ch.redact(err)) }),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}))
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", ch.redact(err))
	}
	return ch, nil
}

// PublicHTTPS reports whether base is an https URL whose host the
// internet can reach: not localhost, not a loopback, private or
// link-local address.
func PublicHTTPS(base string) bool {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") ||
		strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && !strings.Contains(host, ":") {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast()
	}
	return true
}

// redact removes the bot token from err's text (URLs carry it).
func (ch *Channel) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), ch.c.Token) {
		return err
	}
	return redacted{msg: strings.ReplaceAll(err.Error(), ch.c.Token, "<token>"), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }
func (r redacted) Unwrap() error { return r.err }

// Channel implements notify.Adapter.
func (*Channel) Channel() notify.Channel { return notify.Telegram }

// BotUsername is the bot's @name without the @, and whether Telegram has
// told it yet (getMe).
func (ch *Channel) BotUsername() (string, bool) {
	if p := ch.username.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// Reach implements notify.Adapter: people who linked a chat.
func (ch *Channel) Reach(ctx context.Context, q *store.Q, users []*core.User) (map[int64]string, error) {
	linked := map[int64]bool{}
	for ws, ids := range notify.ByWorkspace(users) {
		got, err := q.TelegramLinked(ctx, ws, ids)
		if err != nil {
			return nil, err
		}
		for id := range got {
			linked[id] = true
		}
	}
	out := make(map[int64]string)
	for _, u := range users {
		if !linked[u.ID] {
			out[u.ID] = notify.UnusableNotConnected
		}
	}
	return out, nil
}

// errNotLinked: the person unlinked between the fan-out and the send.
var errNotLinked = errors.New("telegram: not connected")

// Send implements notify.Adapter: one sendMessage with the title in bold,
// the body, and a button to the item.
func (ch *Channel) Send(ctx context.Context, m *notify.Message) error {
	l, err := ch.c.DB.Reader().TelegramLink(ctx, m.User.WorkspaceID, m.User.ID)
	if errors.Is(err, core.ErrNotFound) {
		return &notify.SendError{Err: errNotLinked, Permanent: true}
	}
	if err != nil {
		return err
	}
	text, markup := ch.compose(m.User.Language, m.Notification)
	return ch.send(ctx, l.ChatID, text, markup, false)
}

// compose renders a notification as HTML text and its link button.
func (ch *Channel) compose(lang string, n *core.Notification) (string, models.ReplyMarkup) {
	title, body := n.Title, n.Body
	// Cut the visible text, not the markup: Telegram counts characters
	// after entity parsing.
	title, body = fit(title, body, MaxText)
	text := "<b>" + html.EscapeString(title) + "</b>"
	if body != "" {
		text += "\n" + html.EscapeString(body)
	}
	var markup models.ReplyMarkup
	if u, err := url.Parse(n.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		markup = &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{
			{Text: ch.c.Texts(lang).T("telegram.open"), URL: n.URL}}}}
	}
	return text, markup
}

// utf16Len is s's length as Telegram counts it.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cut shortens s to at most limit UTF-16 code units, at a character
// boundary, ending with "…" when it cut.
func cut(s string, limit int) string {
	if utf16Len(s) <= limit {
		return s
	}
	if limit <= 0 {
		return ""
	}
	n, end := 0, 0
	for i, r := range s {
		if n+utf16.RuneLen(r) > limit-1 { // room for the ellipsis
			end = i
			break
		}
		n += utf16.RuneLen(r)
		end = i + utf8.RuneLen(r)
	}
	return s[:end] + "…"
}

// fit cuts title and body so that title, a newline and body take at most
// limit characters: the body gives way first.
func fit(title, body string, limit int) (string, string) {
	title = cut(title, limit)
	if body == "" {
		return title, ""
	}
	room := limit - utf16Len(title) - 1
	if room <= 0 {
		return title, ""
	}
	return title, cut(body, room)
}

// send sends text to chat within the rate limits. A turn further off than
// MaxWait is a *notify.SendError with RetryAfter, unless wait is set (the
// replies to /start and /stop wait their turn).
func (ch *Channel) send(ctx context.Context, chat int64, text string, markup models.ReplyMarkup, wait bool) error {
	for {
		d, ok := ch.limiter.reserve(chat)
		if !ok && !wait {
			return &notify.SendError{Err: fmt.Errorf("telegram: rate limit: next turn in %v", d.Round(time.Millisecond)), RetryAfter: d}
		}
		if !ok {
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		break
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := ch.bot.SendMessage(cctx, &bot.SendMessageParams{ChatID: chat, Text: text, ParseMode: models.ParseModeHTML,
		ReplyMarkup: markup, LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: bot.True()}})
	return ch.classify(err)
}

// classify turns a Bot API error into a notify.SendError: 429 waits as
// asked (and holds every send meanwhile), 403 (the person blocked the bot,
// or left) and 400 "chat not found" are a dead chat, another 400 cannot
// succeed on a retry; 5xx and network errors are temporary.
func (ch *Channel) classify(err error) error {
	if err == nil {
		return nil
	}
	err = ch.redact(err)
	var tooMany *bot.TooManyRequestsError
	switch {
	case errors.As(err, &tooMany):
		after := retryAfter(tooMany.RetryAfter)
		ch.limiter.pause(time.Now().Add(after))
		return &notify.SendError{Err: err, RetryAfter: after}
	case errors.Is(err, bot.ErrorForbidden):
		return &notify.SendError{Err: err, Dead: true}
	case errors.Is(err, bot.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "chat not found"):
		return &notify.SendError{Err: err, Dead: true}
	case errors.Is(err, bot.ErrorBadRequest):
		return &notify.SendError{Err: err, Permanent: true}
	}
	var migrate *bot.MigrateError
	if errors.As(err, &migrate) { // a group became a supergroup: the old chat is gone
		return &notify.SendError{Err: err, Dead: true}
	}
	return err
}

// Unlink implements notify.Unlinker: the chat is gone or blocked the bot.
func (ch *Channel) Unlink(ctx context.Context, m *notify.Message) error {
	ok, err := ch.c.DB.Writer().UnlinkTelegram(ctx, m.User.WorkspaceID, m.User.ID, 0)
	if err == nil && ok {
		ch.logger.InfoContext(ctx, "telegram unlinked: the chat cannot be reached", "user_id", m.User.ID)
	}
	return err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tokenHash is how a link token is stored.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// maxRetryAfter bounds Telegram's retry_after: its flood control asks for
// seconds to minutes, and a larger value (a proxy's, a bug's; 9227000000
// seconds even overflows a Duration) must not hold every send for years.
const maxRetryAfter = time.Hour

// retryAfter is Telegram's retry_after in seconds as a wait: at least a
// second, at most maxRetryAfter.
func retryAfter(seconds int) time.Duration {
	return time.Duration(min(max(seconds, 1), int(maxRetryAfter/time.Second))) * time.Second
}
