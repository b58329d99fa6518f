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
	return river.InsertOpts{Queue: jobs.QueueNotify, MaxAttempts: 1000, Priority: jobs.PriorityDeliver}
}

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	s *Service
}

func (w *digestWorker) NextRetry(job *river.Job[DigestArgs]) time.Time {
	return time.Now().Add(w.s.backoff(job.Attempt))
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

// digestOutcome is what became of one digest of a batch.
type digestOutcome struct {
	d          *store.Digest
	status     string // sent, empty, failed, or queued again
	items      int
	err        error
	retryAfter time.Duration
}

// sendDigests sends the queued digests of refs: their rows, people,
// switches and contents are read a batch at a time, the mails go out one
// by one, and the outcomes are written in one transaction. A digest that
// fails for a while gets a job of its own then, so the others are not
// sent again; a job of one digest is retried by the queue itself.
func (s *Service) sendDigests(ctx context.Context, refs []DigestRef) error {
	byDate := map[string][]int64{}
	for _, r := range refs {
		byDate[r.Date] = append(byDate[r.Date], r.UserID)
	}
	var outcomes []digestOutcome
	for date, ids := range byDate {
		out, err := s.sendDigestsOf(ctx, date, ids)
		if err != nil {
			return err
		}
		outcomes = append(outcomes, out...)
	}
	var retry error
	var retryAfter time.Duration
	err := s.db.InTx(ctx, func(q *store.Q) error {
		for _, o := range outcomes {
			lastError := ""
			if o.err != nil {
				lastError = keptError(o.err)
			}
			if _, err := q.FinishDigest(ctx, o.d.UserID, o.d.LocalDate, o.status, o.items, lastError); err != nil {
				return err
			}
			if o.status != "queued" {
				continue
			}
			if len(refs) == 1 {
				retry, retryAfter = o.err, o.retryAfter
				continue
			}
			wait := min(o.retryAfter, s.retryFor)
			if wait <= 0 {
				wait = s.backoff(1)
			}
			if err := s.jobs.InsertTx(ctx, q.Tx, DigestArgs{Digests: []DigestRef{{UserID: o.d.UserID, Date: o.d.LocalDate}}},
				&river.InsertOpts{ScheduledAt: s.now().Add(wait)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record digests: %w", err)
	}
	if retry != nil {
		if retryAfter > 0 {
			return river.JobSnooze(min(retryAfter, s.retryFor)) // a peer's wait, bounded as a delivery's
		}
		return fmt.Errorf("digest: %w", retry)
	}
	return nil
}

// sendDigestsOf sends the queued digests of localDate of userIDs and
// returns what became of each.
func (s *Service) sendDigestsOf(ctx context.Context, localDate string, userIDs []int64) ([]digestOutcome, error) {
	q := s.db.Reader()
	digests, err := q.QueuedDigests(ctx, localDate, userIDs)
	if err != nil || len(digests) == 0 {
		return nil, err
	}
	ids := make([]int64, len(digests))
	byWorkspace := map[int64][]int64{}
	for i, d := range digests {
		ids[i] = d.UserID
		byWorkspace[d.WorkspaceID] = append(byWorkspace[d.WorkspaceID], d.UserID)
	}
	users := map[int64]*core.User{}
	for ws, wsIDs := range byWorkspace {
		list, err := q.UsersByID(ctx, ws, wsIDs)
		if err != nil {
			return nil, err
		}
		for _, u := range list {
			users[u.ID] = u
		}
	}
	switches, err := q.NotifySettingsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := s.now()
	contents, err := q.DigestItems(ctx, localDate, ids, now, DigestShown)
	if err != nil {
		return nil, err
	}
	out := make([]digestOutcome, 0, len(digests))
	for _, d := range digests {
		u, c := users[d.UserID], contents[d.UserID]
		sw, found := switches[d.UserID]
		if u == nil || u.State != core.StateActive || !found || !sw.Receive || c == nil {
			out = append(out, digestOutcome{d: d, status: "empty"})
			continue
		}
		o := digestOutcome{d: d, status: "sent", items: c.Total}
		if sendErr := s.digests.SendDigest(ctx, u, &Digest{LocalDate: d.LocalDate, Items: c.Items, Total: c.Total}); sendErr != nil {
			var se *SendError
			if !errors.As(sendErr, &se) {
				se = &SendError{Err: sendErr}
			}
			o.err, o.retryAfter = se, se.RetryAfter
			o.status = "queued"
			if se.Permanent || se.Dead || now.Sub(d.DueAt) >= s.retryFor {
				o.status = "failed"
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// digestPeriodic is the job that queues due digests.
func digestPeriodic() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(DigestTick),
		func() (river.JobArgs, *river.InsertOpts) { return DigestTickArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})
}
