package mail_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite"

	"roster/internal/jobs"
	"roster/internal/mail"
	"roster/internal/mail/mailtest"
)

func job(m mail.Message) *river.Job[mail.SendArgs] {
	return &river.Job[mail.SendArgs]{
		JobRow: &rivertype.JobRow{ID: 1, Attempt: 1, Kind: "mail.send"},
		Args:   mail.SendArgs{Message: m},
	}
}

func TestSendArgsOptions(t *testing.T) {
	opts := mail.SendArgs{}.InsertOpts()
	if opts.Queue != jobs.QueueMail || opts.MaxAttempts != mail.SendMaxAttempts {
		t.Fatalf("InsertOpts = %+v", opts)
	}
	if (mail.SendArgs{}).Kind() != "mail.send" {
		t.Fatal("kind changed; queued jobs would no longer find their worker")
	}
}

func TestSendWorkerMapsFailures(t *testing.T) {
	srv := mailtest.NewServer(t)
	w := &mail.SendWorker{Sender: newSMTP(t, srv.URL())}
	ctx := context.Background()

	if err := w.Work(ctx, job(sample)); err != nil {
		t.Fatalf("delivery: %v", err)
	}

	srv.FailNext(1, 451)
	err := w.Work(ctx, job(sample))
	var cancel *river.JobCancelError
	if err == nil || errors.As(err, &cancel) {
		t.Fatalf("451: err = %v; want a plain error so River retries", err)
	}

	srv.FailNext(1, 550)
	err = w.Work(ctx, job(sample))
	if !errors.As(err, &cancel) {
		t.Fatalf("550: err = %v; want JobCancel so River does not retry", err)
	}
}

// TestMailJobEndToEnd enqueues mail jobs through a real queue on SQLite: a
// delivered mail completes, a temporary failure is retried, and a
// permanently rejected one is cancelled.
func TestMailJobEndToEnd(t *testing.T) {
	srv := mailtest.NewServer(t)
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := jobs.Migrate(ctx, jobs.EngineSQLite, db); err != nil {
		t.Fatal(err)
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &fastRetry{SendWorker: mail.SendWorker{Sender: newSMTP(t, srv.URL())}})
	q, err := jobs.New(jobs.Config{
		Engine:            jobs.EngineSQLite,
		DB:                db,
		Logger:            slog.New(slog.DiscardHandler),
		Workers:           workers,
		MaxWorkers:        1, // one at a time, so FailNext hits the job we mean
		FetchPollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		q.Stop(ctx)
	})

	enqueue := func(to string) {
		t.Helper()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := sample
		m.To = to
		if err := q.InsertTx(ctx, tx, mail.SendArgs{Message: m}, nil); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	srv.FailNext(1, 451)
	enqueue("retry@example.org")
	waitJob(t, q, "retry@example.org", rivertype.JobStateCompleted)

	srv.FailNext(1, 550)
	enqueue("gone@example.org")
	row := waitJob(t, q, "gone@example.org", rivertype.JobStateCancelled)
	if row.Queue != jobs.QueueMail || row.MaxAttempts != mail.SendMaxAttempts {
		t.Fatalf("job queue %q max attempts %d", row.Queue, row.MaxAttempts)
	}

	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "retry@example.org" {
		t.Fatalf("delivered = %+v, want only the retried mail", msgs)
	}
}

// fastRetry retries at once instead of after River's backoff.
type fastRetry struct{ mail.SendWorker }

func (*fastRetry) NextRetry(*river.Job[mail.SendArgs]) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}

// waitJob waits until the mail job to recipient reaches state.
func waitJob(t *testing.T, q *jobs.Queue, to string, state rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		res, err := q.Client().JobList(context.Background(), river.NewJobListParams().Kinds("mail.send"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Jobs {
			if strings.Contains(string(r.EncodedArgs), to) {
				if r.State == state {
					return r
				}
				if time.Now().After(deadline) {
					t.Fatalf("job to %s is %s after %d attempts, want %s (errors %+v)", to, r.State, r.Attempt, state, r.Errors)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no job to %s", to)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type fakeStore struct {
	mu   sync.Mutex
	mail []mail.Message
	err  error
}

func (f *fakeStore) SaveOutboxMail(_ context.Context, m mail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.mail = append(f.mail, m)
	return nil
}

func TestDevOutbox(t *testing.T) {
	var logs bytes.Buffer
	store := &fakeStore{}
	d := &mail.DevOutbox{Store: store, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	m := sample
	m.Template, m.WorkspaceID = "two_factor_code", 42
	m.Subject = "Your sign-in code: 123456" // a code in the subject
	if err := d.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(store.mail) != 1 || !reflect.DeepEqual(store.mail[0], m) {
		t.Fatalf("stored %+v", store.mail)
	}
	out := logs.String()
	if !strings.Contains(out, "to_hash="+mail.RecipientHash("Ana@Example.org")) || !strings.Contains(out, "template=two_factor_code") ||
		!strings.Contains(out, "workspace_id=42") || !strings.Contains(out, "level=INFO") {
		t.Errorf("log lacks recipient hash, kind, workspace or level: %s", out)
	}
	// Neither subject nor body is logged: they carry codes and links.
	for _, secret := range []string{"123456", "accept?t=abc", "ana@example.org", "sign-in code"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %q: %s", secret, out)
		}
	}

	store.err = errors.New("disk full")
	if err := d.Send(context.Background(), sample); err == nil || mail.IsPermanent(err) {
		t.Fatalf("store failure: err = %v, want a temporary error", err)
	}
}
