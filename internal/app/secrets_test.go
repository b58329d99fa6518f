package app_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"log/slog"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/mail/mailtest"
	"roster/internal/notify/telegram/telegramtest"
	"roster/internal/store"
)

// TestNoSecretInDatabaseOrLogs runs the flows that make secrets, with mail
// going to a real SMTP server as in production (the dev outbox keeps mail
// in the database on purpose): setup, sign-in by page and API, an API
// token, an invitation, a password reset, an email change, an
// authenticator app with its key, code and backup codes, a sign-in with a
// code, emailed codes. Then it reads the database files (with the
// write-ahead log) and everything logged: no password, session or API
// token, link token, code, backup code or authenticator key (base32 or raw)
// may be there in clear.
func TestNoSecretInDatabaseOrLogs(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })
	smtp := mailtest.NewServer(t)
	data := filepath.Join(t.TempDir(), "data")
	tg := telegramtest.NewServer(t)
	tg.Slack = 100 * time.Millisecond
	r := startLogged(t, store.SQLite, app.Config{DataDir: data, SMTPURL: smtp.URL(), MailFrom: "roster@example.com",
		TelegramBotToken: tg.Token, TelegramAPIURL: tg.APIURL()}, logger)
	const anaPW, neoPW, neoPW2 = "tangerine-violin", "marmalade-cello", "violin-tangerine"
	secrets := []string{anaPW, neoPW, neoPW2}
	var codes []string // six digits: looked for apart from longer numbers
	ip := "203.0.113.1"

	// mailTo waits for the next mail to addr whose subject matches
	// inSubject, or whose text matches inText, and returns its subject and
	// its raw text with quoted-printable line breaks undone.
	seen := map[int]bool{}
	mailTo := func(addr string, inSubject, inText *regexp.Regexp) (subject, text string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for i, m := range smtp.Messages() {
				if seen[i] || m.To[0] != addr {
					continue
				}
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
				text := strings.ReplaceAll(string(m.Data), "=\r\n", "")
				if inSubject != nil && inSubject.MatchString(subject) || inText != nil && inText.MatchString(text) {
					seen[i] = true
					return subject, text
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no mail to %s", addr)
		return "", ""
	}
	text := func(_, text string) string { return text }
	linkRE := regexp.MustCompile(`/(?:invite|password/reset|email/confirm)/([A-Za-z0-9_-]{10,})`)
	codeRE := regexp.MustCompile(`\b\d{6}\b`)

	setup, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: anaPW})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, setup.Token, apiLogin(t, r, "ana@example.com"))
	raw, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM sync", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, raw)
	if resp, _ := r.post(t, "/login", url.Values{"email": {"ana@example.com"}, "password": {anaPW}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	for _, c := range r.client.Jar.Cookies(mustURL(t, r.URL)) {
		secrets = append(secrets, c.Value)
	}

	// An invitation, accepted through its link.
	if resp, _ := r.post(t, "/settings/users/invite", url.Values{"email": {"neo@example.com"}, "role": {"user"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("invite: %d", resp.StatusCode)
	}
	invite := linkRE.FindStringSubmatch(text(mailTo("neo@example.com", nil, linkRE)))
	r.newClient()
	if resp, _ := r.post(t, invite[0], url.Values{"name": {"Neo"}, "password": {neoPW}, "language": {"en"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("accept invite: %d", resp.StatusCode)
	}
	neo, err := r.DB.Reader().UserByEmail(ctx, "neo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// A password reset by the admin, used.
	if err := r.Profiles.SendPasswordReset(ctx, setup.User, neo.ID, ip); err != nil {
		t.Fatal(err)
	}
	reset := linkRE.FindStringSubmatch(text(mailTo("neo@example.com", nil, linkRE)))
	if _, err := r.Profiles.ResetPassword(ctx, reset[1], neoPW2, ip); err != nil {
		t.Fatal(err)
	}
	// An email change, confirmed through its link.
	if _, err := r.Profiles.RequestEmailChange(ctx, neo, neo.ID, "neo.new@example.com", ip); err != nil {
		t.Fatal(err)
	}
	confirm := linkRE.FindStringSubmatch(text(mailTo("neo.new@example.com", nil, linkRE)))
	if resp, _ := r.get(t, confirm[0]); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm email: %d", resp.StatusCode)
	}
	secrets = append(secrets, invite[1], reset[1], confirm[1])

	// An authenticator app for neo: its key, a code, backup codes; then a
	// sign-in through the API with a code.
	login, err := r.signIn(ctx, auth.LoginInput{Email: "neo.new@example.com", Password: neoPW2, Kind: core.SessionWeb, IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	p := &auth.Principal{User: login.User, Session: login.Session}
	ts, err := r.Security.StartTOTP(ctx, p, neoPW2, "", "Acme", ip)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(ts.Secret))
	if err != nil || len(key) < 10 {
		t.Fatalf("authenticator key %q: %v", ts.Secret, err)
	}
	code, err := totp.GenerateCode(ts.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	backup, err := r.Security.ConfirmTOTP(ctx, p, code, ip)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(append(secrets, login.Token, ts.Secret, string(key), ts.URI), backup...)
	codes = append(codes, code)
	step, err := r.Security.SignIn(ctx, auth.LoginInput{Email: "neo.new@example.com", Password: neoPW2, Kind: core.SessionAPI, IP: ip})
	if err != nil || step.Challenge == nil {
		t.Fatalf("sign-in with a second step: %+v %v", step, err)
	}
	done, err := r.Security.VerifyLogin(ctx, step.Challenge.Token, backup[0], ip)
	if err != nil || done.LoginResult == nil {
		t.Fatalf("second step with a backup code: %v", err)
	}
	secrets = append(secrets, step.Challenge.Token, done.Token)

	// Emailed codes for ana: the code that turns them on, backup codes.
	anaLogin, err := r.signIn(ctx, auth.LoginInput{Email: "ana@example.com", Password: anaPW, Kind: core.SessionWeb, IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	pa := &auth.Principal{User: anaLogin.User, Session: anaLogin.Session}
	if err := r.Security.StartEmail(ctx, pa, anaPW, "", ip); err != nil {
		t.Fatal(err)
	}
	subject, _ := mailTo("ana@example.com", codeRE, nil)
	emailed := codeRE.FindString(subject)
	anaBackup, err := r.Security.ConfirmEmail(ctx, pa, emailed, ip)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(append(secrets, anaLogin.Token), anaBackup...)
	codes = append(codes, emailed)

	// Connecting Telegram: the link's token, used by /start.
	waitFor(t, "getMe", func() bool { _, ok := r.Telegram.BotUsername(); return ok })
	link, err := r.Telegram.StartLink(ctx, setup.User)
	if err != nil {
		t.Fatal(err)
	}
	_, tgToken, _ := strings.Cut(link, "?start=")
	tg.Send(telegramtest.Text{ChatID: 9300, UserID: 9300, Username: "ana_tg", Language: "en", Text: "/start " + tgToken})
	if m := tg.WaitFor(t, 1, 10*time.Second)[0]; m.ChatID != 9300 {
		t.Fatalf("telegram reply: %+v", m)
	}
	secrets = append(secrets, tgToken)
	r.shutdown(t)

	var stored []byte
	for _, f := range []string{store.SQLiteFile, store.SQLiteFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(data, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if len(stored) < 100_000 {
		t.Fatalf("read %d bytes of database: not the database", len(stored))
	}
	logged := []byte(logs.String())
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret: a flow did not run")
		}
		for where, b := range map[string][]byte{"the database": stored, "the log": logged} {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(jsonEscaped(s))) {
				t.Errorf("secret %q in %s", s, where)
			}
		}
	}
	for _, c := range codes {
		re := regexp.MustCompile(`(^|[^0-9])` + c + `([^0-9]|$)`)
		if re.Match(stored) || re.Match(logged) {
			t.Errorf("code %s in the database or the log", c)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
