package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/jobs"
	"roster/internal/store"
)

// The daily digest is sent in three steps, each durable:
//
//  1. The schedule: notify_settings.digest_next_at holds when a person's
//     next digest is due, set whenever their email timing, digest time or
//     zone changes (reschedule) and moved on when one is queued. Due people
//     are found by an index on it, never by a scan of all users.
//  2. The tick (every DigestTick, on the queue's leader) queues what is
//     due: in one transaction per batch it moves each schedule on and
//     takes the (person, local date) key, then enqueues the sending jobs.
//     The key is unique, so no date gets a second digest whatever runs
//     twice.
//  3. The sending job reads the person's unread notifications of the 24
//     hours before the due instant whose email was held for the digest,
//     and mails the newest DigestShown with the count of the rest;
//     nothing is sent when nothing is unread.

// DigestShown is how many notifications a digest shows; the rest are
// counted ("and N more") with a link to the centre.
const DigestShown = 5

// DigestTick is how often due digests are looked for: a digest due at
// HH:MM goes out within this, plus the time to send what is due with it.
const DigestTick = 10 * time.Second

// digestBatch bounds the people queued per transaction and per job.
const (
	digestQueueBatch = 500
	digestJobBatch   = 50
)

// DigestKey is the pseudo type of a digest's one-click unsubscribe link,
// which turns email off for every type the person could turn off.
const DigestKey = "digest"

var digestType = &Type{Key: DigestKey}

// Digest is what one person's digest mail shows.
type Digest struct {
	LocalDate string               // the local date it is for, 2006-01-02
	Items     []*core.Notification // the newest unread, newest first, at most DigestShown
	Total     int                  // all unread it covers
}

// DigestSender mails a digest (the email channel). An error that is not a
// *SendError is taken as temporary.
type DigestSender interface {
	SendDigest(ctx context.Context, u *core.User, d *Digest) error
}

// zoneOf is the person's zone, UTC when it is unknown to this machine.
func zoneOf(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}

// reschedule sets when u's next digest is due from their settings own
// (which must be stored): none unless they chose the daily digest.
// timeChanged: the person changed their digest time (not their zone).
func (s *Service) reschedule(ctx context.Context, q *store.Q, u *core.User, own core.NotifySettings, timeChanged bool) error {
	if own.EmailTiming != core.EmailDaily {
		return q.SetDigestSchedule(ctx, u.ID, time.Time{})
	}
	h, m, err := ParseDigestTime(own.DigestTime)
	if err != nil {
		return err
	}
	pending, last, err := q.DigestSchedule(ctx, u.ID)
	if err != nil {
		return err
	}
	now, loc := s.now(), zoneOf(u.Timezone)
	next := NextDigest(now, loc, h, m, last)
	// A new time that has passed today while today's digest has not gone
	// yet: it goes now rather than not at all. (Not on a change of zone:
	// the dates of two zones do not compare.)
	today := DigestDate(now, loc)
	if timeChanged && !pending.IsZero() && DigestDate(pending, loc) == today && DigestDate(next, loc) != today {
		next = now
	}
	return q.SetDigestSchedule(ctx, u.ID, next)
}

// ZoneChanged moves u's next digest to their new zone; the profile calls
// it in the transaction that changes the zone.
func (s *Service) ZoneChanged(ctx context.Context, q *store.Q, u *core.User) error {
	own, found, err := q.NotifySettings(ctx, u.ID)
	if err != nil || !found {
		return err
	}
	return s.reschedule(ctx, q, u, own, false)
}

// DigestTickArgs is the periodic job that queues due digests.
type DigestTickArgs struct{}

// Kind implements river.JobArgs.
func (DigestTickArgs) Kind() string { return "notify.digest_tick" }

// InsertOpts puts ticks on the notify queue. Two ticks at once are
// harmless: each schedule moves on at most once (see store.QueueDigest).
func (DigestTickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotify, MaxAttempts: 1}
}

type digestTickWorker struct {
	river.WorkerDefaults[DigestTickArgs]
	s *Service
}

func (w *digestTickWorker) Work(ctx context.Context, _ *river.Job[DigestTickArgs]) error {
	_, err := w.s.QueueDueDigests(ctx)
	return err
}

// DigestArgs sends the digests of a few people.
type DigestArgs struct {
	Digests []DigestRef `json:"digests"`
}

// DigestRef names one digest: a person and a local date.
type DigestRef struct {
	UserID int64  `json:"user_id"`
	Date   string `json:"date"`
}

// Kind implements river.JobArgs.
func (DigestArgs) Kind() string { return "notify.digest" }

// InsertOpts allows enough attempts for a day of retries; the worker
// fails the digest itself once RetryFor has passed.
func (DigestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotify, MaxAttempts: 1000}
}

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	s *Service
}

func (w *digestWorker) NextRetry(job *river.Job[DigestArgs]) time.Time {
	return time.Now().Add(Backoff(job.Attempt))
}

func (w *digestWorker) Work(ctx context.Context, job *river.Job[DigestArgs]) error {
	return w.s.sendDigests(ctx, job.Args.Digests)
}

// QueueDueDigests queues every digest due now and returns how many.
func (s *Service) QueueDueDigests(ctx context.Context) (int, error) {
	if s.digests == nil {
		return 0, nil
	}
	total := 0
	for {
		var due []store.DigestDue
		err := s.db.InTx(ctx, func(q *store.Q) error {
			now := s.now()
			var err error
			if due, err = q.DueDigests(ctx, now, digestQueueBatch); err != nil {
				return err
			}
			var refs []DigestRef
			for _, d := range due {
				loc := zoneOf(d.Timezone)
				date := DigestDate(d.DueAt, loc)
				var next time.Time
				if h, m, err := ParseDigestTime(d.DigestTime); err == nil {
					next = NextDigest(now, loc, h, m, date)
				}
				queued, err := q.QueueDigest(ctx, d, date, next)
				if err != nil {
					return err
				}
				if queued {
					refs = append(refs, DigestRef{UserID: d.UserID, Date: date})
				}
			}
			var jobs []river.InsertManyParams
			for start := 0; start < len(refs); start += digestJobBatch {
				jobs = append(jobs, river.InsertManyParams{Args: DigestArgs{Digests: refs[start:min(start+digestJobBatch, len(refs))]}})
			}
			total += len(refs)
			return s.jobs.InsertManyTx(ctx, q.Tx, jobs)
		})
		if err != nil {
			return total, fmt.Errorf("queue digests: %w", err)
		}
		if len(due) < digestQueueBatch {
			return total, nil
		}
	}
}

// sendDigests sends each queued digest of refs. One that fails for a
// while gets a job of its own, so the others are not sent again.
func (s *Service) sendDigests(ctx context.Context, refs []DigestRef) error {
	for _, ref := range refs {
		retryAfter, err := s.sendDigest(ctx, ref)
		if err == nil {
			continue
		}
		if len(refs) == 1 {
			if retryAfter > 0 {
				return river.JobSnooze(retryAfter)
			}
			return err
		}
		if retryAfter <= 0 {
			retryAfter = Backoff(1)
		}
		err = s.db.InTx(ctx, func(q *store.Q) error {
			return s.jobs.InsertTx(ctx, q.Tx, DigestArgs{Digests: []DigestRef{ref}}, &river.InsertOpts{ScheduledAt: s.now().Add(retryAfter)})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sendDigest sends one queued digest. A temporary failure leaves it
// queued and returns the error, with the wait the peer asked for, until
// RetryFor has passed since it was due; then, or on a permanent failure,
// it is failed.
func (s *Service) sendDigest(ctx context.Context, ref DigestRef) (retryAfter time.Duration, _ error) {
	q := s.db.Writer()
	d, err := q.DigestRow(ctx, ref.UserID, ref.Date)
	if errors.Is(err, core.ErrNotFound) {
		return 0, nil // pruned
	}
	if err != nil {
		return 0, err
	}
	if d.Status != "queued" {
		return 0, nil // done before
	}
	finish := func(status string, items int, lastError string) error {
		_, err := q.FinishDigest(ctx, d.UserID, d.LocalDate, status, items, lastError)
		return err
	}
	u, err := q.UserInWorkspace(ctx, d.WorkspaceID, d.UserID)
	if errors.Is(err, core.ErrNotFound) {
		return 0, finish("empty", 0, "")
	}
	if err != nil {
		return 0, err
	}
	own, found, err := q.NotifySettings(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if u.State != core.StateActive || !found || !own.Receive {
		return 0, finish("empty", 0, "")
	}
	items, total, err := q.DigestItems(ctx, u.ID, d.DueAt.Add(-24*time.Hour), s.now(), DigestShown)
	if err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, finish("empty", 0, "")
	}
	sendErr := s.digests.SendDigest(ctx, u, &Digest{LocalDate: d.LocalDate, Items: items, Total: total})
	if sendErr == nil {
		return 0, finish("sent", total, "")
	}
	var se *SendError
	if !errors.As(sendErr, &se) {
		se = &SendError{Err: sendErr}
	}
	if se.Permanent || se.Dead || s.now().Sub(d.DueAt) >= s.retryFor {
		return 0, finish("failed", total, se.Error())
	}
	if err := finish("queued", total, se.Error()); err != nil {
		return 0, err
	}
	return se.RetryAfter, fmt.Errorf("digest of user %d for %s: %w", d.UserID, d.LocalDate, sendErr)
}

// digestPeriodic is the job that queues due digests.
func digestPeriodic() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(DigestTick),
		func() (river.JobArgs, *river.InsertOpts) { return DigestTickArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})
}
