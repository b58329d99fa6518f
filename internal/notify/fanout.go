package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"roster/internal/core"
	"roster/internal/store"
)

// fanoutBatch is how many recipients one fan-out transaction covers: big
// enough that an event to 10,000 people takes few round trips, small
// enough that a transaction stays short (well inside a job's timeout, so
// a fan-out cut short has committed most of its work and its retry goes
// on from there).
const fanoutBatch = 250

type fanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	s *Service
}

func (w *fanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	return w.s.Fanout(ctx, job.Args.EventIDs...)
}

// target is one event to some of its recipients.
type target struct {
	e   *core.NotifyEvent
	t   *Type
	ids []int64
}

// Fanout makes the events' notifications and deliveries. Events with named
// recipients are fanned out together, up to fanoutBatch people per
// transaction (a burst of single events costs a few transactions); an
// event for everyone goes through the workspace's active people in
// batches. Each transaction also enqueues the delivery jobs it needs. It
// can run any number of times: the unique (event, user) and (event, user,
// channel) keys make a rerun after a crash add only what is missing.
func (s *Service) Fanout(ctx context.Context, eventIDs ...int64) error {
	var pending []target
	size := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := s.fanoutTargets(ctx, pending)
		pending, size = nil, 0
		return err
	}
	for _, id := range eventIDs {
		e, err := s.db.Reader().NotifyEvent(ctx, id)
		if errors.Is(err, core.ErrNotFound) {
			continue // pruned
		}
		if err != nil {
			return err
		}
		t, ok := TypeOf(e.Type)
		if !ok {
			s.logger.ErrorContext(ctx, "fan-out: unknown type", "event", e.ID, "type", e.Type)
			continue
		}
		if e.AllUsers {
			if err := s.fanoutAll(ctx, e, t); err != nil {
				return err
			}
			continue
		}
		for batch := range chunkIDs(e.Recipients, fanoutBatch) {
			if size+len(batch) > fanoutBatch {
				if err := flush(); err != nil {
					return err
				}
			}
			pending = append(pending, target{e: e, t: t, ids: batch})
			size += len(batch)
		}
	}
	return flush()
}

// fanoutAll fans e out to every active person of its workspace, a batch a
// transaction. On PostgreSQL a few batches run at once: each is a dozen
// round trips and a commit's log flush, so one after another kept an
// event to 10,000 people waiting on the database for seconds. Batches
// hold disjoint people, so their rows and locks never meet. SQLite has
// one writer: there they run in turn.
func (s *Service) fanoutAll(ctx context.Context, e *core.NotifyEvent, t *Type) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanoutWorkers(s.db))
	var after int64
	for {
		ids, err := s.db.Reader().ActiveUserIDs(gctx, e.WorkspaceID, after, fanoutBatch)
		if err != nil {
			// A batch's failure cancelled gctx: its error says more.
			return cmp.Or(g.Wait(), err)
		}
		if len(ids) == 0 {
			return g.Wait()
		}
		g.Go(func() (err error) {
			// errgroup does not recover: a panic in a batch would end the
			// process, where River recovers one in Work and retries.
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("fan out: panic: %v", p)
				}
			}()
			return s.fanoutTargets(gctx, []target{{e: e, t: t, ids: ids}})
		})
		after = ids[len(ids)-1]
	}
}

// fanoutWorkers is how many batches of one event fan out at once: on
// PostgreSQL up to four, and no more than half the pool's connections, so
// requests keep the rest while a broadcast runs (the default pool of 5
// gives 2).
func fanoutWorkers(db *store.DB) int {
	if db.Engine != store.Postgres {
		return 1
	}
	return min(4, max(1, db.W.Stats().MaxOpenConnections/2))
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

// people is what the fan-out knows of one workspace's recipients.
type people struct {
	users    map[int64]*core.User // active ones only
	switches map[int64]core.NotifySettings
	r        resolver
	chosen   map[int64]map[cell]bool
	reach    map[Channel]map[int64]string
}

// load reads the active ones of ids in the workspace, their switches,
// cells and reachability.
func (s *Service) load(ctx context.Context, q *store.Q, workspaceID int64, ids []int64) (*people, error) {
	all, err := q.UsersByID(ctx, workspaceID, ids)
	if err != nil {
		return nil, err
	}
	p := &people{users: map[int64]*core.User{}}
	var active []*core.User
	var uids []int64
	for _, u := range all {
		if u.State == core.StateActive {
			p.users[u.ID] = u
			active = append(active, u)
			uids = append(uids, u.ID)
		}
	}
	if len(active) == 0 {
		return p, nil
	}
	if p.switches, err = q.NotifySettingsOf(ctx, uids); err != nil {
		return nil, err
	}
	prefs, err := q.NotifyPrefs(ctx, workspaceID, append([]int64{0}, uids...))
	if err != nil {
		return nil, err
	}
	p.r, p.chosen = newResolver(prefs)
	if p.reach, err = s.usability(ctx, q, active); err != nil {
		return nil, err
	}
	return p, nil
}

// fanoutTargets fans the targets out in one transaction.
func (s *Service) fanoutTargets(ctx context.Context, targets []target) error {
	var feed []core.FeedEntry
	err := s.db.InTx(ctx, func(q *store.Q) (err error) {
		feed, err = s.fanoutTx(ctx, q, targets)
		return err
	})
	if err != nil {
		return fmt.Errorf("fan out: %w", err)
	}
	s.publish(ctx, feed)
	return nil
}

// fanoutTx makes the targets' notifications, inbox entries, deliveries and
// delivery jobs in q's transaction, and returns the entries to publish
// once it commits.
func (s *Service) fanoutTx(ctx context.Context, q *store.Q, targets []target) (feed []core.FeedEntry, err error) {
	byWorkspace := map[int64]*people{}
	ids := map[int64][]int64{}
	for _, tg := range targets {
		ids[tg.e.WorkspaceID] = append(ids[tg.e.WorkspaceID], tg.ids...)
	}
	for ws, list := range ids {
		p, err := s.load(ctx, q, ws, unique(list))
		if err != nil {
			return nil, err
		}
		byWorkspace[ws] = p
	}
	texts := map[string]Translator{}
	typeOfEvent := map[int64]string{}
	var ns []*core.Notification
	var ds []*core.Delivery
	for _, tg := range targets {
		p := byWorkspace[tg.e.WorkspaceID]
		e, t := tg.e, tg.t
		typeOfEvent[e.ID] = t.Key
		for _, id := range tg.ids {
			u := p.users[id]
			if u == nil {
				continue // not active (or gone)
			}
			sw, ok := p.switches[u.ID]
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
				Popup: Popup(t, sw.Receive, p.r.on(t, Browser, p.chosen[u.ID]))})
			for _, ch := range Channels {
				if ch == InApp {
					continue
				}
				// A person on the daily digest can be reached by email,
				// once a day: the rule decides as for anyone, and what
				// would go now is held for the digest.
				reach := p.reach[ch][u.ID]
				dec := Decide(Choice{Type: t, Channel: ch, Receive: sw.Receive, Usable: reach == "" || reach == UnusableDigest,
					CellOn: p.r.on(t, ch, p.chosen[u.ID])})
				d := &core.Delivery{WorkspaceID: e.WorkspaceID, EventID: e.ID, UserID: u.ID, Channel: string(ch), Status: core.DeliveryQueued}
				switch {
				case dec.Deliver && ch == Email && t.Internal():
					d.Status, d.Reason = core.DeliverySkipped, ReasonNotice
				case dec.Deliver && reach == UnusableDigest:
					d.Status, d.Reason = core.DeliverySkipped, ReasonDigest
				case !dec.Deliver:
					d.Status, d.Reason = core.DeliverySkipped, dec.Reason
				}
				ds = append(ds, d)
			}
		}
	}
	if len(ns) == 0 {
		return nil, nil
	}
	stored, err := q.InsertNotifications(ctx, ns)
	if err != nil {
		return nil, err
	}
	if feed, err = q.AddToInboxes(ctx, stored); err != nil {
		return nil, err
	}
	byID := make(map[int64]*core.Notification, len(stored))
	for _, n := range stored {
		byID[n.ID] = n
	}
	for i := range feed {
		if feed[i].Kind == core.FeedNew {
			feed[i].Note = byID[feed[i].NotificationID]
		}
	}
	made, err := q.InsertDeliveries(ctx, ds)
	if err != nil {
		return nil, err
	}
	var jobs []river.InsertManyParams
	for _, d := range made {
		if d.Status != core.DeliveryQueued {
			continue
		}
		job := river.InsertManyParams{Args: DeliverArgs{DeliveryID: d.ID}}
		if t, ok := TypeOf(typeOfEvent[d.EventID]); ok && t.Delay > 0 {
			job.InsertOpts = &river.InsertOpts{ScheduledAt: d.CreatedAt.Add(t.Delay)}
		}
		jobs = append(jobs, job)
	}
	return feed, s.jobs.InsertManyTx(ctx, q.Tx, jobs)
}

// NextRetry retries soon, with jitter: every attempt keeps what its
// transactions committed, and the work is idempotent.
func (w *fanoutWorker) NextRetry(job *river.Job[FanoutArgs]) time.Time {
	return time.Now().Add(w.s.backoff(job.Attempt))
}
