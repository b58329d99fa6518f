package app_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/mail/mailtest"
	"roster/internal/notify"
	"roster/internal/profile"
	"roster/internal/store"
	"roster/internal/testenv"
)

// sse opens the notification stream of token on r and returns a channel
// of "event data" lines.
func sse(t *testing.T, r *running, token string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/api/v1/me/notifications/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{}).Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", res, err)
	}
	out := make(chan string, 100)
	go func() {
		defer res.Body.Close()
		defer close(out)
		br := bufio.NewReader(res.Body)
		var name string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "event: "):
				name = line[7:]
			case strings.HasPrefix(line, "data: "):
				out <- name + " " + line[6:]
			}
		}
	}()
	t.Cleanup(func() { _ = res.Body.Close() })
	return out
}

func next(t *testing.T, c <-chan string, within time.Duration) string {
	t.Helper()
	select {
	case s, ok := <-c:
		if !ok {
			t.Fatal("stream closed")
		}
		return s
	case <-time.After(within):
		t.Fatalf("no stream event within %v", within)
	}
	return ""
}

// settledDelivery waits until u has at least events deliveries on channel
// and the newest is no longer queued, and returns it.
func settledDelivery(t *testing.T, r *running, u *core.User, channel string, events int) *core.Delivery {
	t.Helper()
	var d *core.Delivery
	waitFor(t, "the "+channel+" delivery to settle", func() bool {
		ds, _ := r.DB.Reader().Deliveries(context.Background(), u.WorkspaceID, u.ID, 0, 100)
		var mine []*core.Delivery
		for _, x := range ds {
			if x.Channel == channel {
				mine = append(mine, x)
			}
		}
		if len(mine) < events {
			return false
		}
		d = mine[0] // newest
		return d.Status != core.DeliveryQueued
	})
	return d
}

func postEvent(t *testing.T, r *running, token, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.URL+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{}).Do(req)
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("post event: %v %v", res, err)
	}
	res.Body.Close()
}

// TestEventReachesAnOpenStream: an event posted through the API goes
// through the real job queue (fan-out) and reaches a stream opened before
// it, on both engines.
func TestEventReachesAnOpenStream(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		r := start(t, engine, app.Config{})
		setup := setupAna(t, r, "en")
		token, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		events := sse(t, r, token)
		if got := next(t, events, 5*time.Second); !strings.HasPrefix(got, "hello ") {
			t.Fatalf("first: %s", got)
		}
		postEvent(t, r, token, fmt.Sprintf(`{"type":"lead.incoming","recipients":[%d],"data":{"title":"Globex","source":"form"}}`, setup.User.ID))
		got := next(t, events, 10*time.Second)
		if !strings.HasPrefix(got, "new ") || !strings.Contains(got, "New lead: Globex") || !strings.Contains(got, `"unread":1`) {
			t.Fatalf("event: %s", got)
		}
	})
}

// TestStreamsAcrossInstances: two instances on one PostgreSQL database; a
// notification made on one reaches a stream held by the other, and a read
// on the other reaches the first.
func TestStreamsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.FreshPostgres(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DatabaseURL: dbURL, SecretKey: base64.StdEncoding.EncodeToString(key)}
	a, b := start(t, "", cfg), start(t, "", cfg)
	setup, err := a.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin", Timezone: "UTC", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := a.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	onA, onB := sse(t, a, token), sse(t, b, token)
	next(t, onA, 5*time.Second)
	next(t, onB, 5*time.Second)
	postEvent(t, a, token, fmt.Sprintf(`{"type":"call.missed","recipients":[%d],"data":{"title":"+1 555 0100"}}`, setup.User.ID))
	for name, c := range map[string]<-chan string{"A": onA, "B": onB} {
		if got := next(t, c, 10*time.Second); !strings.HasPrefix(got, "new ") || !strings.Contains(got, "+1 555 0100") {
			t.Fatalf("stream on %s: %s", name, got)
		}
	}
	// Read on B: A's stream hears it.
	req, _ := http.NewRequest("POST", b.URL+"/api/v1/me/notifications/read-all", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{}).Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("read all: %v %v", res, err)
	}
	res.Body.Close()
	if got := next(t, onA, 5*time.Second); !strings.HasPrefix(got, "read_all ") || !strings.Contains(got, `"unread":0`) {
		t.Fatalf("A after a read on B: %s", got)
	}
}

// TestShutdownClosesStreams: an open stream does not hold up shutdown.
func TestShutdownClosesStreams(t *testing.T) {
	ctx := context.Background()
	r := start(t, store.SQLite, app.Config{ShutdownTimeout: 20 * time.Second})
	setup := setupAna(t, r, "en")
	token, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	events := sse(t, r, token)
	next(t, events, 5*time.Second)
	began := time.Now()
	r.shutdown(t)
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("shutdown took %v with a stream open", took)
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("the stream sent more after shutdown")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not closed at shutdown")
	}
}

// TestNotificationEmail: an event for a person who gets it by email (the
// default for task.assigned) goes through the real queue to a real SMTP
// server: From, To, the subject in the person's language, both parts, the
// item and settings links and the one-click List-Unsubscribe pair; the
// one-click POST turns email off for that type, without a sign-in. A
// temporary SMTP failure is retried into exactly one mail; a permanent
// one fails the delivery, visibly.
func TestNotificationEmail(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		smtpd := mailtest.NewServer(t)
		r := start(t, engine, app.Config{SMTPURL: smtpd.URL(), MailFrom: "roster@example.com"})
		_, bea, token := adminAndMember(t, r, "es")
		before := len(smtpd.Messages())
		postEvent(t, r, token, fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":"Llamar a Globex","from":"Ana","url":"https://crm.example/tasks/7"}}`, bea.ID))
		msgs := smtpd.WaitFor(t, before+1, 10*time.Second)
		raw := string(msgs[len(msgs)-1].Data)
		parsed, err := netmail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		if !strings.Contains(parsed.Header.Get("From"), "roster@example.com") || !strings.Contains(parsed.Header.Get("To"), "bea@example.com") ||
			subject != "Nueva tarea: Llamar a Globex" && !strings.Contains(subject, "Llamar a Globex") || subject == "New task: Llamar a Globex" {
			t.Fatalf("headers: From %q To %q Subject %q", parsed.Header.Get("From"), parsed.Header.Get("To"), subject)
		}
		unsub := parsed.Header.Get("List-Unsubscribe")
		if parsed.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.HasPrefix(unsub, "<"+r.URL+"/unsubscribe/") {
			t.Fatalf("List-Unsubscribe %q, Post %q", unsub, parsed.Header.Get("List-Unsubscribe-Post"))
		}
		for _, want := range []string{"text/plain", "text/html", "https://crm.example/tasks/7", r.URL + "/settings/notifications"} {
			if !strings.Contains(raw, want) {
				t.Fatalf("mail lacks %q:\n%s", want, raw)
			}
		}
		// The one-click POST, as a mail client sends it: no cookie, no Origin.
		res, err := http.Post(strings.Trim(unsub, "<>"), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("one-click: %v %v", res, err)
		}
		res.Body.Close()
		s, err := r.Notify.Settings(ctx, bea)
		if err != nil || s.Cells.On("task.assigned", "email") || !s.Cells.On("mention", "email") {
			t.Fatalf("after one-click: task.assigned email %v, mention email %v (%v)", s.Cells.On("task.assigned", "email"), s.Cells.On("mention", "email"), err)
		}
		// A forged or altered link changes nothing.
		res, _ = http.Post(r.URL+"/unsubscribe/"+strconv.FormatInt(bea.ID, 10)+".bWVudGlvbg.AAAAAAAAAAAAAAAAAAAAAA", "text/plain", nil)
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("forged link: %d", res.StatusCode)
		}
		res.Body.Close()

		// Temporary failure, then success: one mail, delivery sent after 2 attempts.
		smtpd.FailNext(1, 451)
		before = len(smtpd.Messages())
		postEvent(t, r, token, fmt.Sprintf(`{"type":"mention","recipients":[%d],"data":{"title":"Globex","from":"Ana"}}`, bea.ID))
		if d := settledDelivery(t, r, bea, "email", 2); d.Status != core.DeliverySent || d.Attempts != 2 || len(smtpd.WaitFor(t, before+1, 10*time.Second)) != before+1 {
			t.Fatalf("after a 451: %+v, %d mails", d, len(smtpd.Messages())-before)
		}
		// Permanent: failed, with the error, and no mail.
		smtpd.FailNext(1, 550)
		postEvent(t, r, token, fmt.Sprintf(`{"type":"mention","recipients":[%d],"data":{"title":"Initech","from":"Ana"}}`, bea.ID))
		if d := settledDelivery(t, r, bea, "email", 3); d.Status != core.DeliveryFailed || !strings.Contains(d.LastError, "550") {
			t.Fatalf("after a 550: %+v", d)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// adminAndMember sets up workspace Acme with its admin Ana and a member,
// Bea, who reads in lang, and an API token of Ana's.
func adminAndMember(t *testing.T, r *running, lang string) (*auth.LoginResult, *core.User, string) {
	t.Helper()
	ctx := context.Background()
	setup := setupAna(t, r, "en")
	bea, err := r.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: "Bea", Email: "bea@example.com", Password: "tangerine-violin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Profiles.Update(ctx, bea, bea.ID, profile.Changes{Language: ptr(lang)}, ""); err != nil {
		t.Fatal(err)
	}
	bea, _ = r.DB.Reader().User(ctx, bea.ID)
	token, _, err := r.Auth.CreateAPIToken(ctx, setup.User, "CRM", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return setup, bea, token
}

// TestDigestEmail: the daily digest through the real mailer and
// templates to an in-process SMTP server: From, To, the subject in the
// person's language, both parts, the items' links, "and N more" with the
// centre, the settings link and the one-click pair, which turns the
// digest off. Every other mail carries the settings link too.
func TestDigestEmail(t *testing.T) {
	each(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		smtpd := mailtest.NewServer(t)
		r := start(t, engine, app.Config{SMTPURL: smtpd.URL(), MailFrom: "roster@example.com"})
		setup, bea, token := adminAndMember(t, r, "ru")
		daily, at := core.EmailDaily, "09:00"
		if _, err := r.Notify.SaveSettings(ctx, bea, notify.SettingsInput{EmailTiming: &daily, DigestTime: &at}); err != nil {
			t.Fatal(err)
		}
		before := len(smtpd.Messages())
		for i := range 7 { // one after the other, so the newest are known
			postEvent(t, r, token, fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":"Задача %d","from":"Ana","url":"https://crm.example/tasks/%d"}}`, bea.ID, i, i))
			waitFor(t, "the event to be held for the digest", func() bool {
				var n int
				_ = r.DB.R.QueryRow(r.DB.Rebind("SELECT COUNT(*) FROM notify_deliveries WHERE user_id = ? AND reason = 'digest'"), bea.ID).Scan(&n)
				return n == i+1
			})
		}
		if got := len(smtpd.Messages()); got != before {
			t.Fatalf("%d mails went at the time of the events to a person on the daily digest", got-before)
		}
		// Make the digest due now, as the schedule would at 09:00.
		if _, err := r.DB.W.Exec(r.DB.Rebind("UPDATE notify_settings SET digest_next_at = ? WHERE user_id = ?"), time.Now().UnixMilli(), bea.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := r.Notify.QueueDueDigests(ctx); err != nil || n != 1 {
			t.Fatalf("queued %d digests (%v)", n, err)
		}
		msgs := smtpd.WaitFor(t, before+1, 10*time.Second)
		raw := string(msgs[len(msgs)-1].Data)
		parsed, err := netmail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		if !strings.Contains(parsed.Header.Get("From"), "roster@example.com") || !strings.Contains(parsed.Header.Get("To"), "bea@example.com") ||
			subject != "Ваша ежедневная сводка: 7 непрочитанных уведомлений" {
			t.Fatalf("headers: From %q To %q Subject %q", parsed.Header.Get("From"), parsed.Header.Get("To"), subject)
		}
		unsub := parsed.Header.Get("List-Unsubscribe")
		if parsed.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.HasPrefix(unsub, "<"+r.URL+"/unsubscribe/") {
			t.Fatalf("List-Unsubscribe %q, Post %q", unsub, parsed.Header.Get("List-Unsubscribe-Post"))
		}
		body := decodedParts(t, parsed)
		for _, want := range []string{"text/plain", "text/html", "https://crm.example/tasks/6", "https://crm.example/tasks/2", "и ещё 2",
			r.URL + "/notifications", r.URL + "/settings/notifications"} {
			if !strings.Contains(body, want) {
				t.Fatalf("digest lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "https://crm.example/tasks/1\"") || strings.Contains(body, "https://crm.example/tasks/1\n") {
			t.Errorf("the digest shows more than the 5 newest:\n%s", body)
		}
		res, err := http.Post(strings.Trim(unsub, "<>"), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("one-click: %v %v", res, err)
		}
		res.Body.Close()
		s, err := r.Notify.Settings(ctx, bea)
		if err != nil || s.Cells.On("task.assigned", "email") || s.Cells.On("mention", "email") {
			t.Fatalf("after the digest's one-click: email still on (%v)", err)
		}
		// Another mail (a password reset, through the mail queue) links the
		// settings page in its footer.
		before = len(smtpd.Messages())
		if err := r.Profiles.SendPasswordReset(ctx, setup.User, bea.ID, ""); err != nil {
			t.Fatal(err)
		}
		msgs = smtpd.WaitFor(t, before+1, 10*time.Second)
		parsed, err = netmail.ReadMessage(strings.NewReader(string(msgs[len(msgs)-1].Data)))
		if err != nil {
			t.Fatal(err)
		}
		if body := decodedParts(t, parsed); !strings.Contains(body, r.URL+"/settings/notifications") || !strings.Contains(body, "Настройки уведомлений") {
			t.Errorf("a password reset mail lacks the settings link:\n%s", body)
		}
	})
}

// decodedParts returns the headers and decoded bodies of every part of m.
func decodedParts(t *testing.T, m *netmail.Message) string {
	t.Helper()
	var out strings.Builder
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		b, _ := io.ReadAll(decodeTransfer(m.Header.Get("Content-Transfer-Encoding"), m.Body))
		return mediaType + "\n" + string(b)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString(p.Header.Get("Content-Type") + "\n")
		b, _ := io.ReadAll(decodeTransfer(p.Header.Get("Content-Transfer-Encoding"), p))
		out.Write(b)
		out.WriteString("\n")
	}
	return out.String()
}

func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(enc) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}
