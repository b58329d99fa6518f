package email_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/mail"
	"roster/internal/mail/mailtest"
	"roster/internal/notify"
	"roster/internal/notify/email"
	"roster/internal/secrets"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

type noMail struct{}

func (noMail) EnqueueTx(context.Context, *sql.Tx, int64, string, string, string, map[string]any) error {
	return nil
}

type recorder struct{ sent []mail.Message }

func (r *recorder) Send(_ context.Context, m mail.Message) error {
	r.sent = append(r.sent, m)
	return nil
}

// TestDigestPeopleAndLinks: people on the daily digest are not reached one
// by one (their deliveries are skipped with "digest"); every language
// renders the mail through the real templates; only a type that can be
// turned off carries a one-click link, and the link works only for its
// person and type.
func TestDigestPeopleAndLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		bundle, err := i18n.New()
		if err != nil {
			t.Fatal(err)
		}
		out := &recorder{}
		box, err := secrets.Load("", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		mac := box.MAC
		ch, err := email.New(email.Config{Sender: out, BaseURL: "https://roster.example", MAC: mac,
			Texts:      func(lang string) mail.Translator { return bundle.Localizer(lang) },
			Workspaces: func(context.Context, int64) (string, error) { return "Acme", nil }})
		if err != nil {
			t.Fatal(err)
		}
		set := servicetest.New(t, services.Config{DB: db, Mail: noMail{}, Secrets: box, Channels: []notify.Adapter{ch}})
		ws := &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en", Country: "US"}
		var ana, bo *core.User
		if err := db.InTx(ctx, func(q *store.Q) error {
			if err := q.CreateWorkspace(ctx, ws); err != nil {
				return err
			}
			ana = &core.User{WorkspaceID: ws.ID, Name: "Ana", Email: "ana@example.com", Language: "en", Timezone: "UTC", Role: core.RoleAdmin, State: core.StateActive, PasswordHash: "x"}
			bo = &core.User{WorkspaceID: ws.ID, Name: "Bo", Email: "bo@example.com", Language: "tr", Timezone: "UTC", Role: core.RoleUser, State: core.StateActive, PasswordHash: "x"}
			if err := q.CreateUser(ctx, ana); err != nil {
				return err
			}
			return q.CreateUser(ctx, bo)
		}); err != nil {
			t.Fatal(err)
		}
		daily := core.EmailDaily
		if _, err := set.Notify.SaveSettings(ctx, bo, notify.SettingsInput{EmailTiming: &daily}); err != nil {
			t.Fatal(err)
		}
		reach, err := ch.Reach(ctx, db.Reader(), []*core.User{ana, bo})
		if err != nil || reach[ana.ID] != "" || reach[bo.ID] != notify.UnusableDigest {
			t.Fatalf("reach: %v %v", reach, err)
		}
		acc, err := set.Notify.Intake(ctx, ana, []notify.EventInput{{Type: "mention", Recipients: []int64{ana.ID, bo.ID}, Data: map[string]any{"title": "Globex", "from": "Ana"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := set.Notify.Fanout(ctx, acc[0].ID); err != nil {
			t.Fatal(err)
		}
		var reason string
		if err := db.R.QueryRow(db.Rebind("SELECT reason FROM notify_deliveries WHERE channel = 'email' AND user_id = ?"), bo.ID).Scan(&reason); err != nil || reason != "digest" {
			t.Fatalf("digest person's email delivery: %q %v", reason, err)
		}
		// Every language renders, strictly, through the real templates.
		for _, lang := range i18n.Supported {
			u := *ana
			u.Language = lang
			n := &core.Notification{Type: "mention", Title: "Globex", Body: "Ana", URL: "https://crm.example/x"}
			m, err := ch.Compose(ctx, &notify.Message{User: &u, Notification: n})
			if err != nil {
				t.Fatal(err)
			}
			if err := mailtest.Check("notification", map[string]any{"Name": "Ana", "Workspace": "Acme", "Title": "Globex", "Body": "Ana",
				"Link": "https://crm.example/x", "SettingsURL": "https://roster.example/settings/notifications", "Unsubscribe": "https://roster.example/unsubscribe/x"}); err != nil {
				t.Fatalf("%s: %v", lang, err)
			}
			if m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" || !strings.Contains(m.Text, "https://crm.example/x") {
				t.Fatalf("%s: %+v", lang, m)
			}
		}
		// A security notice's mail has no one-click link.
		sec, err := ch.Compose(ctx, &notify.Message{User: ana, Notification: &core.Notification{Type: "security.password_changed", Title: "x", Body: "y"}})
		if err != nil || len(sec.Headers) != 0 || strings.Contains(sec.Text, "/unsubscribe/") {
			t.Fatalf("security notice mail: %+v %v", sec.Headers, err)
		}
		// A token works for its person and type only.
		token := notify.UnsubscribeToken(mac, ana.ID, "mention")
		if _, _, err := set.Notify.ReadUnsubscribe(ctx, token); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(token, ".")
		for _, bad := range []string{
			notify.UnsubscribeToken(mac, bo.ID, "mention")[:len(parts[0])] + "." + parts[1] + "." + parts[2],
			parts[0] + "." + strings.Split(notify.UnsubscribeToken(mac, ana.ID, "task.assigned"), ".")[1] + "." + parts[2],
			parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
			"", "1.2", token + ".x",
		} {
			if _, _, err := set.Notify.Unsubscribe(ctx, bad); err != notify.ErrBadUnsubscribe {
				t.Errorf("token %q: %v", bad, err)
			}
		}
		if notify.UnsubscribeToken(mac, ana.ID, "security.new_device") != "" {
			t.Fatal("a mandatory type got an unsubscribe token")
		}
	})
}

// TestConnectionRefusedIsTemporary: a mail server that is down is a
// temporary failure (the delivery is retried), not a permanent one.
func TestConnectionRefusedIsTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	sender, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://" + addr, From: "roster@example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := email.New(email.Config{Sender: sender, BaseURL: "https://roster.example", MAC: func(s string) []byte { return []byte(s) },
		Texts:      func(lang string) mail.Translator { return bundle.Localizer(lang) },
		Workspaces: func(context.Context, int64) (string, error) { return "Acme", nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), &notify.Message{Delivery: &core.Delivery{ID: 1}, User: &core.User{ID: 1, Email: "bo@example.com", Language: "en"},
		Notification: &core.Notification{Type: "mention", Title: "Hello"}})
	var se *notify.SendError
	if !errors.As(err, &se) || se.Permanent || se.Dead {
		t.Fatalf("connection refused: %v (%+v), want a temporary SendError", err, se)
	}
}

// TestMessageIDIsTheDeliverys: a delivery's mail has the same Message-ID
// at every try (a send the process died before recording goes again as
// the same message), two deliveries never share one (even with the same
// id in a database started again), and a digest keeps one per person and
// date.
func TestMessageIDIsTheDeliverys(t *testing.T) {
	bundle, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := email.New(email.Config{Sender: discardMail{}, BaseURL: "https://roster.example:8443", MAC: func(s string) []byte { return []byte(s) },
		Texts:      func(lang string) mail.Translator { return bundle.Localizer(lang) },
		Workspaces: func(context.Context, int64) (string, error) { return "Acme", nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bo := &core.User{ID: 7, Email: "bo@example.com", Language: "en", CreatedAt: time.UnixMilli(1_700_000_000_000)}
	at := time.UnixMilli(1_765_000_000_000)
	id := func(d *core.Delivery) string {
		t.Helper()
		m, err := ch.Compose(ctx, &notify.Message{Delivery: d, User: bo, Notification: &core.Notification{Type: "mention", Title: "Hello"}})
		if err != nil {
			t.Fatal(err)
		}
		return m.MessageID
	}
	first := id(&core.Delivery{ID: 41, CreatedAt: at})
	if first != "delivery.41.1765000000000@roster.example" || id(&core.Delivery{ID: 41, CreatedAt: at}) != first {
		t.Fatalf("Message-ID of delivery 41: %q", first)
	}
	if id(&core.Delivery{ID: 42, CreatedAt: at}) == first || id(&core.Delivery{ID: 41, CreatedAt: at.Add(time.Millisecond)}) == first {
		t.Fatal("two deliveries share a Message-ID")
	}
	digest := func(date string) string {
		m, err := ch.ComposeDigest(ctx, bo, &notify.Digest{LocalDate: date})
		if err != nil {
			t.Fatal(err)
		}
		return m.MessageID
	}
	if d := digest("2026-12-05"); d != digest("2026-12-05") || d == digest("2026-12-06") || d == "" {
		t.Fatalf("digest Message-IDs: %q", d)
	}
	// An address for a base URL: an IPv6 one goes in brackets.
	for base, want := range map[string]string{"http://[::1]:8080": "@[::1]", "http://127.0.0.1:8080": "@127.0.0.1"} {
		ch, err := email.New(email.Config{Sender: discardMail{}, BaseURL: base, MAC: func(s string) []byte { return []byte(s) },
			Texts:      func(lang string) mail.Translator { return bundle.Localizer(lang) },
			Workspaces: func(context.Context, int64) (string, error) { return "Acme", nil }})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ch.Compose(ctx, &notify.Message{Delivery: &core.Delivery{ID: 1, CreatedAt: at}, User: bo, Notification: &core.Notification{Type: "mention", Title: "Hello"}})
		if err != nil || !strings.HasSuffix(m.MessageID, want) {
			t.Fatalf("Message-ID under %s: %q %v", base, m.MessageID, err)
		}
	}
}

type discardMail struct{}

func (discardMail) Send(context.Context, mail.Message) error { return nil }
