package notify_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/mail"
	"roster/internal/mail/mailtest"
	"roster/internal/notify"
	"roster/internal/notify/email"
	"roster/internal/services"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// Email benchmarks of issue 10, against an in-process SMTP server through
// the real mailer (one kept connection) and templates:
//
//	go test -run '^$' -bench 'InstantEmail|DigestsDue' -benchtime 1x ./internal/notify/

func emailChannel(b *testing.B, smtpd *mailtest.Server) *email.Channel {
	b.Helper()
	bundle, err := i18n.New()
	if err != nil {
		b.Fatal(err)
	}
	sender, err := mail.NewSMTP(mail.SMTPConfig{URL: smtpd.URL(), From: "roster@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sender.Close() })
	ch, err := email.New(email.Config{Sender: sender, BaseURL: "https://roster.example", MAC: func(s string) []byte { return []byte(s + "0123456789abcdef") },
		Texts:      func(lang string) mail.Translator { return bundle.Localizer(lang) },
		Workspaces: func(context.Context, int64) (string, error) { return "Acme", nil }})
	if err != nil {
		b.Fatal(err)
	}
	return ch
}

// BenchmarkInstantEmail: emails/s of the email channel's Send, 50
// deliveries at once as the notify queue's 50 workers send them.
func BenchmarkInstantEmail(b *testing.B) {
	smtpd := mailtest.NewServer(b)
	smtpd.Discard()
	ch := emailChannel(b, smtpd)
	const n, workers = 5_000, 50
	langs := []string{"en", "es", "pt-BR", "id", "tr", "ru"}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				u := &core.User{ID: int64(i + 1), WorkspaceID: 1, Name: "Bea", Email: fmt.Sprintf("u%d@example.com", i), Language: langs[i%len(langs)]}
				m := &notify.Message{Delivery: &core.Delivery{ID: int64(i + 1)}, User: u, Notification: &core.Notification{Type: "task.assigned",
					Title: fmt.Sprintf("New task: call %d", i), Body: "Ana assigned this task to you.", URL: "https://crm.example/tasks/1"}}
				if err := ch.Send(context.Background(), m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if smtpd.Count() != n {
		b.Fatalf("%d mails arrived, want %d", smtpd.Count(), n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "emails/s")
}

// BenchmarkDigestsDue100000: 100,000 people on the daily digest, each with
// an unread notification held for it, all due in the same minute: the
// seconds from the tick to the last digest handed to the SMTP server,
// with the jobs run 50 at a time as the notify queue's workers run them.
func BenchmarkDigestsDue100000(b *testing.B) {
	ctx := context.Background()
	smtpd := mailtest.NewServer(b)
	smtpd.Discard()
	ch := emailChannel(b, smtpd)
	db := storetest.Open(b, store.SQLite)
	people := 100_000
	if n, err := strconv.Atoi(os.Getenv("ROSTER_BENCH_PEOPLE")); err == nil && n > 0 {
		people = n // a smaller run, for profiling
	}
	f := newFixtureWith(b, db, 0, services.Config{Channels: []notify.Adapter{ch}, Digests: ch})
	err := db.InTx(ctx, func(q *store.Q) error {
		for i := range people {
			u := &core.User{WorkspaceID: f.ws.ID, Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("u%d@example.com", i),
				Language: "en", Timezone: "UTC", Role: core.RoleUser, State: core.StateActive, PasswordHash: "x"}
			if err := q.CreateUser(ctx, u); err != nil {
				return err
			}
			if err := q.SaveNotifySettings(ctx, u.ID, core.NotifySettings{Receive: true, EmailTiming: core.EmailDaily, DigestTime: "09:00"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", AllUsers: true, Data: map[string]any{"title": "Weekly report"}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
		b.Fatal(err)
	}
	due := time.Now().Add(-time.Second)
	if _, err := db.W.Exec("UPDATE notify_settings SET digest_next_at = ? WHERE user_id <> ?", due.UnixMilli(), f.admin.ID); err != nil {
		b.Fatal(err)
	}

	start := time.Now()
	queuedN, err := f.n.QueueDueDigests(ctx)
	if err != nil || queuedN != people {
		b.Fatalf("queued %d (%v)", queuedN, err)
	}
	queuedAt := time.Since(start)
	rows, err := db.R.Query("SELECT user_id, local_date FROM notify_digests WHERE status = 'queued'")
	if err != nil {
		b.Fatal(err)
	}
	var refs []notify.DigestRef
	for rows.Next() {
		var r notify.DigestRef
		if err := rows.Scan(&r.UserID, &r.Date); err != nil {
			b.Fatal(err)
		}
		refs = append(refs, r)
	}
	rows.Close()
	jobs := make(chan []notify.DigestRef)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for batch := range jobs {
				if err := notify.SendDigestBatchForTest(ctx, f.n, batch); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < len(refs); i += 50 {
		jobs <- refs[i:min(i+50, len(refs))]
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if smtpd.Count() != people {
		b.Fatalf("%d digests arrived, want %d", smtpd.Count(), people)
	}
	b.ReportMetric(elapsed.Seconds(), "s_all_sent")
	b.ReportMetric(queuedAt.Seconds(), "s_queued")
	b.ReportMetric(float64(people)/elapsed.Seconds(), "digests/s")
}
