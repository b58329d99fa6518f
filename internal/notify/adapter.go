package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/jobs"
	"roster/internal/store"
)

// Adapter delivers notifications on one channel (email, mobile, browser
// push, Telegram). The core knows nothing else about a channel.
type Adapter interface {
	Channel() Channel
	// Reach tells, for each of users, why the channel cannot reach them
	// now (an Unusable* reason), or "" when it can. Users missing from
	// the map can be reached.
	Reach(ctx context.Context, q *store.Q, users []*core.User) (map[int64]string, error)
	// Send delivers one message. An error that is not a *SendError is
	// taken as temporary.
	Send(ctx context.Context, m *Message) error
}

// Why a channel cannot reach a person; translated as notify.unusable.<reason>.
const (
	UnusableNotConfigured  = "not_configured"  // the operator has not set the channel up
	UnusableNoDevice       = "no_device"       // no mobile app registered
	UnusableNoSubscription = "no_subscription" // no browser subscribed
	UnusableNotConnected   = "not_connected"   // Telegram not linked
	// UnusableDigest: the person gets email once a day; an event's own
	// email is skipped with ReasonDigest.
	UnusableDigest = "digest"
)

// Message is what an adapter sends: one notification to one person.
type Message struct {
	Delivery     *core.Delivery
	User         *core.User
	Notification *core.Notification // title, body and link in the person's language
}

// SendError classifies a failed send.
type SendError struct {
	Err error
	// Permanent: retrying cannot help (a rejected recipient, a payload
	// too large); the delivery fails now.
	Permanent bool
	// Dead: the destination no longer exists and must be unlinked (a
	// push subscription gone); the delivery fails now.
	Dead bool
	// RetryAfter is what the peer asked for before the next try, 0 for
	// the usual backoff.
	RetryAfter time.Duration
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Unlinker is an Adapter that forgets a dead destination.
type Unlinker interface {
	Unlink(ctx context.Context, m *Message) error
}

// DefaultRetryFor is how long a delivery is retried on temporary errors
// before it is failed.
const DefaultRetryFor = 24 * time.Hour

// Backoff bounds: exponential from backoffBase, capped at backoffCap, with
// full jitter (a uniformly random wait up to the bound) so deliveries that
// failed together do not retry together.
const (
	backoffBase = 2 * time.Second
	backoffCap  = 30 * time.Minute
)

// Backoff is the wait before retry number attempt (from 1), with the
// default bounds.
func Backoff(attempt int) time.Duration { return backoffWithin(backoffBase, backoffCap, attempt) }

// backoff is Backoff with the service's bounds (Config.RetryBase and
// RetryCap).
func (s *Service) backoff(attempt int) time.Duration {
	return backoffWithin(s.retryBase, s.retryCap, attempt)
}

func backoffWithin(base, cap time.Duration, attempt int) time.Duration {
	bound := cap
	if attempt < 20 {
		bound = min(cap, base<<(max(attempt, 1)-1))
	}
	return time.Duration(rand.Int64N(int64(bound)) + 1)
}

// DeliverArgs is the durable job that sends one queued delivery.
type DeliverArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "notify.deliver" }

// InsertOpts allows enough attempts for a day of retries (the worker
// fails the delivery itself once RetryFor has passed), after fan-outs.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotify, MaxAttempts: 1000, Priority: jobs.PriorityDeliver}
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// NextRetry is exponential backoff with full jitter.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.s.backoff(job.Attempt))
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args.DeliveryID)
}

// deliver sends a queued delivery once. A temporary failure keeps it
// queued and returns an error for River to retry (or a snooze for a
// peer's Retry-After) until RetryFor has passed since the delivery was
// made; then, or on a permanent failure, it is failed.
func (s *Service) deliver(ctx context.Context, id int64) error {
	q := s.db.Writer()
	d, err := q.Delivery(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil // pruned
	}
	if err != nil {
		return err
	}
	if d.Status != core.DeliveryQueued {
		return nil // done before (a retried job)
	}
	a := s.adapters[Channel(d.Channel)]
	if a == nil {
		_, err := q.RecordAttempt(ctx, d.ID, core.DeliverySkipped, ReasonChannelUnavailable, "")
		return err
	}
	m, err := s.message(ctx, d)
	if err != nil {
		return err
	}
	if t, ok := TypeOf(m.Notification.Type); ok && !t.Mandatory {
		if !m.Notification.ReadAt.IsZero() {
			// Read in the centre before it went: nothing to tell.
			_, err := q.RecordAttempt(ctx, d.ID, core.DeliverySkipped, ReasonRead, "")
			return err
		}
		if until, err := s.quietUntil(ctx, m.User); err != nil {
			return err
		} else if !until.IsZero() {
			if err := q.HoldDelivery(ctx, d.ID, ReasonQuiet); err != nil {
				return err
			}
			return river.JobSnooze(until.Sub(s.now()))
		}
	}
	sendErr := a.Send(ctx, m)
	if sendErr == nil {
		_, err := q.RecordAttempt(ctx, d.ID, core.DeliverySent, "", "")
		return err
	}
	var se *SendError
	if !errors.As(sendErr, &se) {
		se = &SendError{Err: sendErr}
	}
	if se.Dead {
		if u, ok := a.(Unlinker); ok {
			if err := u.Unlink(ctx, m); err != nil {
				s.logger.WarnContext(ctx, "unlink dead destination", "channel", d.Channel, "err", err)
			}
		}
	}
	if se.Permanent || se.Dead || s.now().Sub(d.CreatedAt) >= s.retryFor {
		_, err := q.RecordAttempt(ctx, d.ID, core.DeliveryFailed, "", keptError(se))
		return err
	}
	if _, err := q.RecordAttempt(ctx, d.ID, core.DeliveryQueued, "", keptError(se)); err != nil {
		return err
	}
	if se.RetryAfter > 0 {
		// A peer may ask for any wait (Retry-After: a year); none
		// outlives the retry window, whose end fails the delivery at
		// the next attempt, so a peer that never recovers ends in a
		// failed delivery admins see, not in one queued for ever.
		return river.JobSnooze(min(se.RetryAfter, max(time.Second, d.CreatedAt.Add(s.retryFor).Sub(s.now()))))
	}
	return fmt.Errorf("deliver %d on %s: %w", d.ID, d.Channel, sendErr)
}

// quietUntil is when u's quiet hours or pause end, zero when they are
// not in one now.
func (s *Service) quietUntil(ctx context.Context, u *core.User) (time.Time, error) {
	own, found, err := s.db.Reader().NotifySettings(ctx, u.ID)
	if err != nil || !found {
		return time.Time{}, err
	}
	return QuietUntil(s.now(), zoneOf(u.Timezone), own.Quiet, own.PausedUntil), nil
}

// message loads what an adapter needs for d.
func (s *Service) message(ctx context.Context, d *core.Delivery) (*Message, error) {
	q := s.db.Reader()
	u, err := q.UserInWorkspace(ctx, d.WorkspaceID, d.UserID)
	if err != nil {
		return nil, err
	}
	n, err := q.NotificationOfEvent(ctx, d.UserID, d.EventID)
	if err != nil {
		return nil, err
	}
	return &Message{Delivery: d, User: u, Notification: n}, nil
}

// usability asks every channel whether it can reach each of users:
// channel → user id → reason ("" or absent: reachable). A channel without
// an adapter reaches nobody.
func (s *Service) usability(ctx context.Context, q *store.Q, users []*core.User) (map[Channel]map[int64]string, error) {
	out := make(map[Channel]map[int64]string, len(Channels))
	for _, ch := range Channels {
		if ch == InApp {
			continue
		}
		a := s.adapters[ch]
		if a == nil {
			m := make(map[int64]string, len(users))
			for _, u := range users {
				m[u.ID] = UnusableNotConfigured
			}
			out[ch] = m
			continue
		}
		m, err := a.Reach(ctx, q, users)
		if err != nil {
			return nil, fmt.Errorf("reach of %s: %w", ch, err)
		}
		out[ch] = m
	}
	return out, nil
}

// maxLastError bounds the error kept with a delivery or digest: a peer's
// answer is read up to 64 kB into it, and admins read it in a table.
const maxLastError = 1000

// keptError is err's text as a delivery keeps it: valid UTF-8 (a peer's
// bytes may not be; PostgreSQL refuses such text) of at most
// maxLastError bytes, cut on a character with an ellipsis.
func keptError(err error) string {
	text := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(text) <= maxLastError {
		return text
	}
	return strings.ToValidUTF8(text[:maxLastError-len("…")], "") + "…"
}
