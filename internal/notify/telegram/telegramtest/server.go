// Package telegramtest is a local Telegram Bot API server for tests: it
// speaks the real protocol (getMe, getUpdates with long polling and
// offsets, setWebhook, deleteWebhook, sendMessage, JSON or multipart
// bodies) and ENFORCES Telegram's limits, failing the test when a client
// sends more than 1 message a second to one chat, 20 a minute to one
// group or 30 a second in all, or a text over 4096 characters.
package telegramtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Message is one sendMessage the server accepted.
type Message struct {
	ChatID     int64
	Text       string // as sent (HTML)
	Plain      string // after entity parsing, as the person sees it
	ParseMode  string
	ButtonText string
	ButtonURL  string
	At         time.Time
}

// Failure is an answer to give to the next sendMessage to a chat instead
// of accepting it.
type Failure struct {
	Status      int
	Description string
	RetryAfter  int // seconds, for 429
}

// Server is the local Bot API.
type Server struct {
	*httptest.Server
	t     testing.TB
	Token string
	BotID int64
	Name  string // the bot's username
	// Slack tolerates arrivals this much closer than the limits: 50 ms
	// from NewServer, on the wall clock, where a loaded machine can delay
	// one request more than the next beyond the sender's margin; 0 from
	// New, for the tests that check the limits on a fake clock.
	Slack time.Duration

	mu         sync.Mutex
	updates    []json.RawMessage // pending, with update_id
	nextID     int64
	arrived    chan struct{} // closed and replaced when an update is added
	polling    int           // getUpdates in progress
	Conflicts  int           // getUpdates refused because another was running
	webhook    string
	secret     string
	messages   []Message
	failures   map[int64][]Failure
	blocked    map[int64]bool
	down       bool // getMe and everything else answer 502
	all        []time.Time
	perChat    map[int64][]time.Time
	Violations []string
}

// NewServer starts a server on a loopback port, closed when the test
// ends. Inside a synctest bubble use NewUnstarted with a listener of the
// bubble.
func NewServer(t testing.TB) *Server {
	s := newServer(t)
	s.Slack = 50 * time.Millisecond
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// New returns a server not yet listening (s.Server is nil): serve it with
// s.ServeHTTP on a listener of your own.
func New(t testing.TB) *Server { return newServer(t) }

func newServer(t testing.TB) *Server {
	return &Server{t: t, Token: "123456:TEST-token_abc", BotID: 123456, Name: "RosterTestBot", nextID: 1000,
		arrived: make(chan struct{}), failures: map[int64][]Failure{}, blocked: map[int64]bool{}, perChat: map[int64][]time.Time{}}
}

// URL of the API, for --telegram-api-url.
func (s *Server) APIURL() string { return s.Server.URL }

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, desc string, retryAfter int) {
	body := map[string]any{"ok": false, "error_code": status, "description": desc}
	if retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	answer(w, status, body)
}

func ok(w http.ResponseWriter, result any) {
	answer(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

// params reads a request's parameters from JSON, a form or multipart.
func params(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		for k, v := range m {
			if s, isString := v.(string); isString {
				out[k] = s
				continue
			}
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			if r.ContentLength == 0 || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") {
				return out, nil // a method without parameters
			}
			return nil, err
		}
		for k, v := range r.MultipartForm.Value {
			out[k] = v[0]
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range r.Form {
			out[k] = v[0]
		}
	}
	return out, nil
}

var pathRE = regexp.MustCompile(`^/bot([^/]+)/([A-Za-z]+)$`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := pathRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		fail(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	if m[1] != s.Token {
		fail(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	p, err := params(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
		return
	}
	switch strings.ToLower(m[2]) {
	case "getme":
		ok(w, map[string]any{"id": s.BotID, "is_bot": true, "first_name": "Roster", "username": s.Name})
	case "setwebhook":
		s.mu.Lock()
		s.webhook, s.secret = p["url"], p["secret_token"]
		s.mu.Unlock()
		ok(w, true)
	case "deletewebhook":
		s.mu.Lock()
		s.webhook, s.secret = "", ""
		s.mu.Unlock()
		ok(w, true)
	case "getupdates":
		s.getUpdates(w, r, p)
	case "sendmessage":
		s.sendMessage(w, p)
	default:
		fail(w, http.StatusNotFound, "Not Found: method not found", 0)
	}
}

func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	timeout, _ := strconv.Atoi(p["timeout"])
	s.mu.Lock()
	if s.webhook != "" {
		s.mu.Unlock()
		fail(w, http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 0)
		return
	}
	if s.polling > 0 {
		s.Conflicts++
		s.mu.Unlock()
		fail(w, http.StatusConflict, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", 0)
		return
	}
	s.polling++
	defer func() { s.mu.Lock(); s.polling--; s.mu.Unlock() }()
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		// Updates before offset are confirmed: forgotten.
		kept := s.updates[:0]
		for _, u := range s.updates {
			if updateID(u) >= offset {
				kept = append(kept, u)
			}
		}
		s.updates = kept
		if len(s.updates) > 0 || timeout <= 0 {
			out := append([]json.RawMessage{}, s.updates...)
			s.mu.Unlock()
			ok(w, out)
			return
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			ok(w, []json.RawMessage{})
			return
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
	}
}

func updateID(u json.RawMessage) int64 {
	var v struct {
		UpdateID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(u, &v)
	return v.UpdateID
}

var tagRE = regexp.MustCompile(`</?(b|strong|i|em|u|s|a|code|pre)( [^>]*)?>`)

// plain is the text a person sees: tags dropped, entities decoded. It
// fails on a "<" that is not an allowed tag, as Telegram does.
func plain(text string) (string, error) {
	stripped := tagRE.ReplaceAllString(text, "")
	if strings.ContainsAny(stripped, "<>") {
		return "", fmt.Errorf("can't parse entities: unsupported start tag")
	}
	return html.UnescapeString(stripped), nil
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

func (s *Server) sendMessage(w http.ResponseWriter, p map[string]string) {
	chat, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad Request: chat not found", 0)
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkRate(chat, now)
	if f := s.failures[chat]; len(f) > 0 {
		s.failures[chat] = f[1:]
		fail(w, f[0].Status, f[0].Description, f[0].RetryAfter)
		return
	}
	if s.blocked[chat] {
		fail(w, http.StatusForbidden, "Forbidden: bot was blocked by the user", 0)
		return
	}
	msg := Message{ChatID: chat, Text: p["text"], ParseMode: p["parse_mode"], At: now}
	if !utf8.ValidString(msg.Text) || msg.Text == "" {
		fail(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	}
	if msg.ParseMode == "HTML" {
		if msg.Plain, err = plain(msg.Text); err != nil {
			fail(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
			return
		}
	} else {
		msg.Plain = msg.Text
	}
	if n := utf16Len(msg.Plain); n > 4096 {
		s.t.Errorf("telegramtest: a message of %d characters (at most 4096)", n)
		fail(w, http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}
	if rm := p["reply_markup"]; rm != "" {
		var markup struct {
			InlineKeyboard [][]struct {
				Text string `json:"text"`
				URL  string `json:"url"`
			} `json:"inline_keyboard"`
		}
		if err := json.Unmarshal([]byte(rm), &markup); err != nil || len(markup.InlineKeyboard) == 0 || len(markup.InlineKeyboard[0]) == 0 {
			fail(w, http.StatusBadRequest, "Bad Request: can't parse reply keyboard markup JSON object", 0)
			return
		}
		b := markup.InlineKeyboard[0][0]
		if !strings.HasPrefix(b.URL, "http://") && !strings.HasPrefix(b.URL, "https://") || b.Text == "" {
			fail(w, http.StatusBadRequest, "Bad Request: wrong HTTP URL", 0)
			return
		}
		msg.ButtonText, msg.ButtonURL = b.Text, b.URL
	}
	s.messages = append(s.messages, msg)
	ok(w, map[string]any{"message_id": len(s.messages), "date": now.Unix(), "chat": map[string]any{"id": chat, "type": "private"},
		"text": msg.Plain})
}

// checkRate records a sendMessage arriving at now and fails the test when
// it breaks a limit: with it, more than 30 in one second, more than 1 to
// the chat in one second, more than 20 to a group in one minute.
func (s *Server) checkRate(chat int64, now time.Time) {
	count := func(ts []time.Time, span time.Duration) int {
		n := 0
		for _, t := range ts {
			if now.Sub(t) < span-s.Slack {
				n++
			}
		}
		return n
	}
	violate := func(format string, args ...any) {
		v := fmt.Sprintf(format, args...)
		s.Violations = append(s.Violations, v)
		s.t.Errorf("telegramtest: rate limit broken: %s", v)
	}
	if n := count(s.all, time.Second); n+1 > 30 {
		violate("%d messages within one second", n+1)
	}
	if n := count(s.perChat[chat], time.Second); n+1 > 1 {
		violate("%d messages to chat %d within one second", n+1, chat)
	}
	if chat < 0 {
		if n := count(s.perChat[chat], time.Minute); n+1 > 20 {
			violate("%d messages to group %d within one minute", n+1, chat)
		}
	}
	s.all = append(s.all, now)
	s.perChat[chat] = append(s.perChat[chat], now)
	// Keep what can still matter.
	s.all = trim(s.all, now, time.Second)
	s.perChat[chat] = trim(s.perChat[chat], now, time.Minute)
}

func trim(ts []time.Time, now time.Time, span time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= span {
		i++
	}
	return ts[i:]
}

// Fail makes the next sendMessage to chat answer f.
func (s *Server) Fail(chat int64, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[chat] = append(s.failures[chat], f)
}

// Block makes chat answer 403 "bot was blocked by the user".
func (s *Server) Block(chat int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[chat] = true
}

// Down makes every method answer 502 while down is true.
func (s *Server) Down(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Webhook returns the webhook URL and secret token set, "" when none.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook, s.secret
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message{}, s.messages...)
}

// WaitFor waits until at least n messages were accepted, or fails.
func (s *Server) WaitFor(t testing.TB, n int, within time.Duration) []Message {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(5 * time.Millisecond) {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("telegramtest: %d messages within %v, want %d", len(s.Messages()), within, n)
		}
	}
}

// Text is a message a person sends to the bot.
type Text struct {
	ChatID   int64
	UserID   int64
	Username string
	Language string
	Text     string
}

// Update makes the update a person's message gives, with the next
// update_id, as JSON.
func (s *Server) Update(m Text) []byte {
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	chatType := "private"
	if m.ChatID < 0 {
		chatType = "group"
	}
	u := map[string]any{"update_id": id, "message": map[string]any{
		"message_id": id, "date": time.Now().Unix(), "text": m.Text,
		"from": map[string]any{"id": m.UserID, "is_bot": false, "first_name": "Person", "username": m.Username, "language_code": m.Language},
		"chat": map[string]any{"id": m.ChatID, "type": chatType, "username": m.Username},
	}}
	b, _ := json.Marshal(u)
	return b
}

// Send queues a person's message for getUpdates, and returns the update.
func (s *Server) Send(m Text) []byte {
	u := s.Update(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates = append(s.updates, u)
	close(s.arrived)
	s.arrived = make(chan struct{})
	return u
}

// Pending is how many updates getUpdates has not had confirmed.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}
