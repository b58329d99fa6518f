package notify

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/store"
)

// Page limits of the in-app centre.
const (
	DefaultPage = 20
	MaxPage     = 100
)

// InboxPage is a page of the centre, newest first.
type InboxPage struct {
	Items []*core.Notification
	// Next is the cursor of the next (older) page, 0 when this is the last.
	Next   int64
	Unread int64
}

// List returns a page of the viewer's notifications older than before (0:
// the newest), of one category when category is not "". Keyset paging on
// the id: notifications that arrive meanwhile never shift a page.
func (s *Service) List(ctx context.Context, viewer *core.User, before int64, category string, limit int) (*InboxPage, error) {
	if limit <= 0 {
		limit = DefaultPage
	}
	if limit > MaxPage || before < 0 {
		var v core.Invalid
		v.Add("limit", "errors.notify.page", map[string]any{"Max": MaxPage})
		return nil, v.Err()
	}
	if category != "" && !validCategory(category) {
		var v core.Invalid
		v.Add("category", "errors.notify.category", nil)
		return nil, v.Err()
	}
	q := s.db.Reader()
	items, err := q.Notifications(ctx, viewer.ID, before, category, limit+1)
	if err != nil {
		return nil, err
	}
	p := &InboxPage{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.Next = p.Items[limit-1].ID
	}
	if p.Unread, _, err = q.UnreadCount(ctx, viewer.ID); err != nil {
		return nil, err
	}
	return p, nil
}

func validCategory(c string) bool {
	for _, k := range Categories {
		if string(k) == c {
			return true
		}
	}
	return false
}

// UnreadCount returns the viewer's exact unread count, cached on SQLite
// (see Service.unread).
func (s *Service) UnreadCount(ctx context.Context, viewer *core.User) (int64, error) {
	return s.unread.Load(ctx, viewer.ID, func(ctx context.Context) (int64, error) {
		n, _, err := s.db.Reader().UnreadCount(ctx, viewer.ID)
		return n, err
	}, store.InboxTag(viewer.ID))
}

// Notification returns one of the viewer's notifications.
func (s *Service) Notification(ctx context.Context, viewer *core.User, id int64) (*core.Notification, error) {
	return s.db.Reader().Notification(ctx, viewer.ID, id)
}

// SetRead marks one of the viewer's notifications read or unread and tells
// their open streams. It returns the unread count after the change.
func (s *Service) SetRead(ctx context.Context, viewer *core.User, id int64, read bool) (int64, error) {
	var entry *core.FeedEntry
	err := s.db.InTx(ctx, func(q *store.Q) error {
		var err error
		entry, err = q.SetRead(ctx, viewer.ID, id, read)
		return err
	})
	if errors.Is(err, store.ErrNoChange) {
		return s.UnreadCount(ctx, viewer)
	}
	if err != nil {
		return 0, err
	}
	s.publish(ctx, []core.FeedEntry{*entry})
	return entry.Unread, nil
}

// ReadAll marks every notification of the viewer read.
func (s *Service) ReadAll(ctx context.Context, viewer *core.User) error {
	var entry *core.FeedEntry
	err := s.db.InTx(ctx, func(q *store.Q) error {
		var err error
		entry, err = q.ReadAll(ctx, viewer.ID)
		return err
	})
	if errors.Is(err, store.ErrNoChange) {
		return nil
	}
	if err != nil || entry == nil {
		return err
	}
	s.publish(ctx, []core.FeedEntry{*entry})
	return nil
}

// FeedGone is returned by Feed when entries after the given number were
// pruned: the stream cannot resume exactly and the client must reload.
var FeedGone = core.Errorf(core.ECONFLICT, "errors.notify.feed_gone")

// Feed returns up to limit of the viewer's feed entries after seq, with the
// notifications the "new" ones name.
func (s *Service) Feed(ctx context.Context, viewer *core.User, seq int64, limit int) ([]core.FeedEntry, map[int64]*core.Notification, error) {
	q := s.db.Reader()
	entries, err := q.FeedSince(ctx, viewer.ID, seq, limit)
	if err != nil {
		return nil, nil, err
	}
	if seq > 0 && (len(entries) == 0 || entries[0].Seq > seq+1) {
		// A gap right after seq: either nothing is new, or pruned
		// entries are missing. Seq numbers only grow, so compare with
		// the oldest kept.
		oldest, err := q.OldestFeedSeq(ctx, viewer.ID)
		if err != nil {
			return nil, nil, err
		}
		if len(entries) > 0 && oldest > seq+1 {
			return nil, nil, FeedGone
		}
	}
	notes := map[int64]*core.Notification{}
	for _, e := range entries {
		if e.Kind != core.FeedNew {
			continue
		}
		n, err := q.Notification(ctx, viewer.ID, e.NotificationID)
		if err == nil {
			notes[n.ID] = n
		}
	}
	return entries, notes, nil
}

// Position returns the viewer's current feed number: a new stream starts
// after it.
func (s *Service) Position(ctx context.Context, viewer *core.User) (unread, seq int64, err error) {
	return s.db.Reader().UnreadCount(ctx, viewer.ID)
}

// PruneArgs is the periodic job that deletes notifications past retention.
type PruneArgs struct{}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return "notify.prune" }

type pruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	s *Service
}

// pruneBatch bounds each delete so a prune never holds the writer long.
const pruneBatch = 1000

func (w *pruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	_, err := w.s.Prune(ctx, time.Now().Add(-w.s.retention))
	return err
}

// Prune deletes, in batches, the notifications created before cutoff and
// then the events and feed entries nothing refers to.
func (s *Service) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		var n int
		err := s.db.InTx(ctx, func(q *store.Q) error {
			var err error
			n, err = q.PruneNotifications(ctx, cutoff, pruneBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	if err := s.db.Writer().PruneDigests(ctx, cutoff); err != nil {
		return total, err
	}
	for {
		var n int
		err := s.db.InTx(ctx, func(q *store.Q) error {
			var err error
			n, err = q.PruneNotifyEvents(ctx, cutoff, pruneBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}

// PeriodicJobs are the jobs the queue runs on a schedule.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PruneArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
		digestPeriodic()}
}

// Deliveries lists a user's deliveries, newest first (admins only; a user
// of another workspace does not exist).
func (s *Service) Deliveries(ctx context.Context, viewer *core.User, userID, before int64, limit int) ([]*core.Delivery, error) {
	if viewer.Role != core.RoleAdmin {
		return nil, core.ErrForbidden
	}
	q := s.db.Reader()
	if _, err := q.UserInWorkspace(ctx, viewer.WorkspaceID, userID); err != nil {
		return nil, err
	}
	return q.Deliveries(ctx, viewer.WorkspaceID, userID, before, limit)
}
