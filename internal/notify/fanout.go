package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/store"
)

// fanoutBatch is how many recipients one fan-out transaction covers: big
// enough that an event to 10,000 people takes few round trips, small
// enough that a transaction stays short.
const fanoutBatch = 1000

type fanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	s *Service
}

func (w *fanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	return w.s.Fanout(ctx, job.Args.EventID)
}

// Fanout makes the event's notifications and deliveries, batch by batch,
// each batch in one transaction with the delivery jobs it needs. It can
// run any number of times: the unique (event, user) and (event, user,
// channel) keys make a rerun after a crash add only what is missing.
func (s *Service) Fanout(ctx context.Context, eventID int64) error {
	e, err := s.db.Reader().NotifyEvent(ctx, eventID)
	if errors.Is(err, core.ErrNotFound) {
		return nil // pruned
	}
	if err != nil {
		return err
	}
	t, ok := TypeOf(e.Type)
	if !ok {
		return river.JobCancel(fmt.Errorf("event %d: unknown type %q", e.ID, e.Type))
	}
	if !e.AllUsers {
		for batch := range chunkIDs(e.Recipients, fanoutBatch) {
			if err := s.fanoutBatch(ctx, e, t, batch); err != nil {
				return err
			}
		}
		return nil
	}
	var after int64
	for {
		ids, err := s.db.Reader().ActiveUserIDs(ctx, e.WorkspaceID, after, fanoutBatch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := s.fanoutBatch(ctx, e, t, ids); err != nil {
			return err
		}
		after = ids[len(ids)-1]
	}
}

func chunkIDs(ids []int64, n int) func(func([]int64) bool) {
	return func(yield func([]int64) bool) {
		for len(ids) > 0 {
			k := min(n, len(ids))
			if !yield(ids[:k]) {
				return
			}
			ids = ids[k:]
		}
	}
}

// fanoutBatch fans e out to the users ids (active ones of e's workspace).
func (s *Service) fanoutBatch(ctx context.Context, e *core.NotifyEvent, t *Type, ids []int64) error {
	var feed []core.FeedEntry
	err := s.db.InTx(ctx, func(q *store.Q) error {
		all, err := q.UsersByID(ctx, e.WorkspaceID, ids)
		if err != nil {
			return err
		}
		users := all[:0]
		for _, u := range all {
			if u.State == core.StateActive {
				users = append(users, u)
			}
		}
		if len(users) == 0 {
			return nil
		}
		uids := make([]int64, len(users))
		for i, u := range users {
			uids[i] = u.ID
		}
		switches, err := q.NotifySettingsOf(ctx, uids)
		if err != nil {
			return err
		}
		prefs, err := q.NotifyPrefs(ctx, e.WorkspaceID, append([]int64{0}, uids...))
		if err != nil {
			return err
		}
		r, chosen := newResolver(prefs)
		reach, err := s.usability(ctx, q, users)
		if err != nil {
			return err
		}
		texts := map[string]Translator{}
		ns := make([]*core.Notification, 0, len(users))
		var ds []*core.Delivery
		for _, u := range users {
			sw, ok := switches[u.ID]
			if !ok {
				sw = defaultSwitches()
			}
			tr := texts[u.Language]
			if tr == nil {
				tr = s.texts(u.Language)
				texts[u.Language] = tr
			}
			text := Render(t, e.Data, tr)
			ns = append(ns, &core.Notification{WorkspaceID: e.WorkspaceID, UserID: u.ID, EventID: e.ID, Type: t.Key,
				Category: string(t.Category), Title: text.Title, Body: text.Body, URL: text.URL,
				Popup: Popup(t, sw.Receive, r.on(t, Browser, chosen[u.ID]))})
			for _, ch := range Channels {
				if ch == InApp {
					continue
				}
				dec := Decide(Choice{Type: t, Channel: ch, Receive: sw.Receive, Usable: reach[ch][u.ID] == "", CellOn: r.on(t, ch, chosen[u.ID])})
				d := &core.Delivery{WorkspaceID: e.WorkspaceID, EventID: e.ID, UserID: u.ID, Channel: string(ch), Status: core.DeliveryQueued}
				if !dec.Deliver {
					d.Status, d.Reason = core.DeliverySkipped, dec.Reason
				}
				ds = append(ds, d)
			}
		}
		stored, err := q.InsertNotifications(ctx, ns)
		if err != nil {
			return err
		}
		if feed, err = q.AddToInboxes(ctx, stored); err != nil {
			return err
		}
		made, err := q.InsertDeliveries(ctx, ds)
		if err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		for _, d := range made {
			if d.Status == core.DeliveryQueued {
				jobs = append(jobs, river.InsertManyParams{Args: DeliverArgs{DeliveryID: d.ID}})
			}
		}
		return s.jobs.InsertManyTx(ctx, q.Tx, jobs)
	})
	if err != nil {
		return fmt.Errorf("fan out event %d: %w", e.ID, err)
	}
	s.publish(ctx, feed)
	return nil
}
