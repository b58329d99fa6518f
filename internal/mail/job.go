package mail

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/jobs"
)

// SendMaxAttempts is how often delivery is tried before the job is
// discarded. With River's backoff, 10 attempts span about four hours,
// long enough to ride out an SMTP outage.
const SendMaxAttempts = 10

// SendArgs is the durable job that sends one Message. Enqueue it with
// jobs.Queue.InsertTx in the transaction that creates the reason for the
// mail, so the mail goes out if and only if the change commits.
type SendArgs struct {
	Message Message `json:"message"`
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
}

// Work sends the message. A permanent failure cancels the job, since
// retrying a rejected recipient only hammers the server; any other failure
// is returned so River retries with backoff.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	err := w.Sender.Send(ctx, job.Args.Message)
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
