package mail

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/jobs"
	"roster/internal/secrets"
)

// SendMaxAttempts is how often delivery is tried before the job is
// discarded. With River's backoff, 10 attempts span about four hours,
// long enough to ride out an SMTP outage.
const SendMaxAttempts = 10

// SendArgs is the durable job that sends one Message. Enqueue it with
// jobs.Queue.InsertTx in the transaction that creates the reason for the
// mail, so the mail goes out if and only if the change commits.
//
// Mail often carries one-time links, so in production the message is sealed
// (Sealed, opened with the worker's Box) and the job table never holds a
// usable link; Message is the unsealed form for a worker without a Box.
type SendArgs struct {
	Message Message `json:"message,omitzero"`
	Sealed  []byte  `json:"sealed,omitempty"`
}

// Kind identifies the job type to River.
func (SendArgs) Kind() string { return "mail.send" }

// InsertOpts puts mail jobs on their own queue with a bounded retry count.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMail, MaxAttempts: SendMaxAttempts}
}

// SendWorker delivers SendArgs jobs through Sender.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	Sender Sender
	Box    *secrets.Box // opens sealed messages
}

// Work sends the message. A permanent failure cancels the job, since
// retrying a rejected recipient only hammers the server; any other failure
// is returned so River retries with backoff.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	m := job.Args.Message
	if job.Args.Sealed != nil {
		if w.Box == nil {
			return river.JobCancel(errors.New("sealed mail but no key to open it"))
		}
		plain, err := w.Box.Open(job.Args.Sealed)
		if err != nil {
			// Another key sealed it: retrying cannot help.
			return river.JobCancel(fmt.Errorf("open sealed mail: %w", err))
		}
		if err := json.Unmarshal(plain, &m); err != nil {
			return river.JobCancel(fmt.Errorf("decode sealed mail: %w", err))
		}
	}
	err := w.Sender.Send(ctx, m)
	if err == nil {
		return nil
	}
	if IsPermanent(err) {
		return river.JobCancel(fmt.Errorf("permanent delivery failure: %w", err))
	}
	return err
}

// Timeout leaves room for a dead kept connection to time out and a fresh
// one to be dialled within one attempt (River's default is one minute).
func (w *SendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return 3 * time.Minute }

// Inserter enqueues jobs inside a transaction; *jobs.Queue is one.
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error
}

// Localizers gives a Translator for a language; *i18n.Bundle is one
// through an adapter in the caller.
type Localizers func(lang string) Translator

// Queue renders templated mail in the recipient's language and enqueues it,
// sealed, in the caller's transaction (it implements Enqueuer).
type Queue struct {
	Jobs         Inserter
	Translations Localizers
	Box          *secrets.Box
	// SettingsURL is the notification settings page, linked from the
	// footer of every mail; "" for none.
	SettingsURL string
}

// EnqueueTx renders template for lang with data and enqueues its delivery
// to `to`, a person of workspace workspaceID, in tx.
// Enqueuer queues a templated email inside the caller's transaction, so the
// mail goes out if and only if the change that causes it commits. It is the
// one mail interface of the services (account, auth, profile, security);
// Queue is the implementation, tests use recorders.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx *sql.Tx, workspaceID int64, to, lang, template string, data map[string]any) error
}

var _ Enqueuer = (*Queue)(nil)

func (q *Queue) EnqueueTx(ctx context.Context, tx *sql.Tx, workspaceID int64, to, lang, template string, data map[string]any) error {
	if q.SettingsURL != "" {
		data = maps.Clone(data)
		if data == nil {
			data = map[string]any{}
		}
		data["ManageURL"] = q.SettingsURL
	}
	subject, text, html, err := Render(template, q.Translations(lang), lang, data)
	if err != nil {
		return fmt.Errorf("render %s mail: %w", template, err)
	}
	m := Message{To: to, Subject: subject, Text: text, HTML: html, Lang: lang, Template: template, WorkspaceID: workspaceID}
	var args SendArgs
	if q.Box != nil {
		plain, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode mail: %w", err)
		}
		args.Sealed = q.Box.Seal(plain)
	} else {
		args.Message = m
	}
	if err := q.Jobs.InsertTx(ctx, tx, args, nil); err != nil {
		return fmt.Errorf("enqueue %s mail: %w", template, err)
	}
	return nil
}
