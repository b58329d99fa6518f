package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"roster/internal/core"
	"roster/internal/jobs"
	"roster/internal/store"
)

// MaxBatch is the most events one batch takes in.
const MaxBatch = 500

// MaxRecipients is the most user ids one event names (use "all" beyond).
const MaxRecipients = 10_000

// MaxDedupeKey is the longest dedupe key.
const MaxDedupeKey = 200

// EventInput is one event as an integration posts it.
type EventInput struct {
	Type       string
	Recipients []int64
	AllUsers   bool
	Data       map[string]any
	OccurredAt time.Time // zero: now
	DedupeKey  string
}

// Accepted is an event taken in.
type Accepted struct {
	ID        int64
	Duplicate bool // an event with the same dedupe key existed; nothing new was made
}

// FanoutArgs is the durable job that fans events out to their
// recipients: the events one intake transaction took in, together.
type FanoutArgs struct {
	EventIDs []int64 `json:"event_ids"`
}

// Kind implements river.JobArgs.
func (FanoutArgs) Kind() string { return "notify.fanout" }

// InsertOpts puts fan-outs on the notification queue, before deliveries.
func (FanoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotify, Priority: jobs.PriorityInApp}
}

// Intake validates events posted by actor (an integration's token user)
// and stores them with their fan-out jobs, all or nothing: one invalid
// event (field errors are prefixed "events[i]." when there are several)
// stores none.
func (s *Service) Intake(ctx context.Context, actor *core.User, in []EventInput) ([]Accepted, error) {
	in, err := s.checkAll(in)
	if err != nil {
		return nil, err
	}
	return s.group.submit(ctx, s, &intakeReq{actor: actor, in: in})
}

// checkAll validates events and returns them normalised, as copies: the
// caller's slice and maps are left as they were.
func (s *Service) checkAll(in []EventInput) ([]EventInput, error) {
	var v core.Invalid
	if len(in) == 0 || len(in) > MaxBatch {
		v.Add("events", "errors.notify.batch_size", map[string]any{"Max": MaxBatch})
		return nil, v.Err()
	}
	in = slices.Clone(in)
	for i := range in {
		s.check(&v, eventPrefix(len(in), i), &in[i])
	}
	return in, v.Err()
}

// intakeReq is one Intake call waiting for its group's transaction.
type intakeReq struct {
	actor *core.User
	in    []EventInput
	// idem, when set, is the idempotency key this request claimed: its
	// answer is stored in the same transaction as the events.
	idem *idemKey
	out  []Accepted
	err  error
	done chan struct{} // closed when out and err are set
	lead chan struct{} // closed when this request is to lead the next group
}

// intakeGroup is group commit for intake: while one transaction runs,
// the calls that arrive wait, and the next transaction takes them all, so
// a burst of single events costs a few transactions and a few job
// inserts instead of one of each per event. There is no background
// goroutine: the first waiting caller leads the next group.
type intakeGroup struct {
	mu      sync.Mutex
	queue   []*intakeReq
	leading bool
}

// maxGroupEvents bounds one group's transaction.
const maxGroupEvents = 2000

func (g *intakeGroup) submit(ctx context.Context, s *Service, r *intakeReq) ([]Accepted, error) {
	r.done, r.lead = make(chan struct{}), make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.leading {
		g.mu.Unlock()
		select {
		case <-r.done:
			return r.out, r.err
		case <-r.lead:
		}
		g.mu.Lock()
	}
	g.leading = true
	for {
		n, events := 0, 0
		for n < len(g.queue) && (n == 0 || events+len(g.queue[n].in) <= maxGroupEvents) {
			events += len(g.queue[n].in)
			n++
		}
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		gctx := context.WithoutCancel(ctx)
		feed := s.commitGroupSafely(gctx, batch)
		mine := false
		for _, b := range batch {
			if b == r {
				mine = true
			} else {
				close(b.done)
			}
		}
		// Published once the group's posters are answered: on PostgreSQL
		// it is a round trip they need not wait for.
		s.publish(gctx, feed)
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.leading = false
			g.mu.Unlock()
			break
		}
		if mine {
			// Done: hand the lead to the first one waiting.
			close(g.queue[0].lead)
			g.mu.Unlock()
			break
		}
	}
	return r.out, r.err
}

// commitGroupSafely is commitGroup turning a panic into every request's
// error, so that a bug fails one group instead of stopping intake for good
// (the lead is handed on as usual).
func (s *Service) commitGroupSafely(ctx context.Context, batch []*intakeReq) (feed []core.FeedEntry) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.ErrorContext(ctx, "intake: panic", "panic", p)
			for _, r := range batch {
				r.out, r.err = nil, fmt.Errorf("intake: panic: %v", p)
			}
			feed = nil
		}
	}()
	return s.commitGroup(ctx, batch)
}

// commitGroup stores the events of every request of a group in one
// transaction with their fan-out (or its jobs), and returns the feed
// entries to publish. Each request's events run in its own savepoint: one
// naming a recipient outside its workspace gets its field errors, one
// whose statements fail gets that error, and in both cases it stores
// nothing while the others go on. The fan-out comes after the savepoints,
// for the whole group: if it fails, every request of the group fails
// (only the database failing gets there, as with the job insert before).
func (s *Service) commitGroup(ctx context.Context, batch []*intakeReq) []core.FeedEntry {
	var feed []core.FeedEntry
	err := s.db.InTx(ctx, func(q *store.Q) error {
		feed = nil
		named := map[int64][]int64{} // workspace → ids
		for _, r := range batch {
			r.err = nil
			for _, e := range r.in {
				named[r.actor.WorkspaceID] = append(named[r.actor.WorkspaceID], e.Recipients...)
			}
		}
		known := map[int64]map[int64]bool{}
		for ws, ids := range named {
			users, err := q.UsersByID(ctx, ws, unique(ids))
			if err != nil {
				return err
			}
			known[ws] = make(map[int64]bool, len(users))
			for _, u := range users {
				known[ws][u.ID] = true
			}
		}
		var events []*core.NotifyEvent
		for _, r := range batch {
			var v core.Invalid
			for i, e := range r.in {
				for j, id := range e.Recipients {
					if !known[r.actor.WorkspaceID][id] {
						v.Add(fmt.Sprintf("%srecipients[%d]", eventPrefix(len(r.in), i), j), "errors.notify.unknown_recipient", map[string]any{"ID": id})
					}
				}
			}
			if r.err = v.Err(); r.err != nil {
				continue
			}
			var mine []*core.NotifyEvent
			r.err = q.Savepoint(ctx, "intake", func() error {
				r.out = make([]Accepted, len(r.in))
				for i, e := range r.in {
					ev := &core.NotifyEvent{WorkspaceID: r.actor.WorkspaceID, Type: e.Type, Data: e.Data, Recipients: unique(e.Recipients),
						AllUsers: e.AllUsers, ActorID: r.actor.ID, DedupeKey: e.DedupeKey, OccurredAt: e.OccurredAt}
					if ev.OccurredAt.IsZero() {
						ev.OccurredAt = s.db.Now()
					}
					dup, err := q.InsertNotifyEvent(ctx, ev)
					if err != nil {
						return err
					}
					r.out[i] = Accepted{ID: ev.ID, Duplicate: dup}
					if !dup {
						mine = append(mine, ev)
					}
				}
				if r.idem != nil {
					return r.idem.finish(ctx, q, r.out)
				}
				return nil
			})
			if r.err != nil {
				r.out = nil
				continue
			}
			events = append(events, mine...)
		}
		// Events to a few named people are fanned out here, in the
		// transaction that stores them: their notifications reach the
		// centre and the stream when the post is answered, without a job's
		// round trip. The rest (everyone, or more people than one fan-out
		// transaction takes) get one fan-out job per slice of the group: a
		// burst of such events is fanned out together.
		var now []target
		var later []int64
		inline := 0 // recipients fanned out here
		for _, ev := range events {
			t, ok := TypeOf(ev.Type)
			if ok && !ev.AllUsers && inline+len(ev.Recipients) <= inlineFanout {
				now = append(now, target{e: ev, t: t, ids: ev.Recipients})
				inline += len(ev.Recipients)
				continue
			}
			later = append(later, ev.ID)
		}
		if len(now) > 0 {
			var err error
			if feed, err = s.fanoutTx(ctx, q, now); err != nil {
				return fmt.Errorf("fan out: %w", err)
			}
		}
		var jobs []river.InsertManyParams
		for ids := range chunkIDs(later, MaxBatch) {
			jobs = append(jobs, river.InsertManyParams{Args: FanoutArgs{EventIDs: slices.Clone(ids)}})
		}
		return s.jobs.InsertManyTx(ctx, q.Tx, jobs)
	})
	if err != nil {
		for _, r := range batch {
			r.out, r.err = nil, err
		}
		return nil
	}
	return feed
}

// inlineFanout is how many recipients a group's intake transaction fans
// out itself, at most: one fan-out transaction's worth.
const inlineFanout = fanoutBatch

// eventPrefix names event i of n in field errors ("" for a single event).
func eventPrefix(n, i int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("events[%d].", i)
}

// check validates one event's type, recipients and data.
func (s *Service) check(v *core.Invalid, prefix string, e *EventInput) {
	t, ok := TypeOf(e.Type)
	if !ok || t.Internal() {
		v.Add(prefix+"type", "errors.notify.unknown_type", map[string]any{"Type": e.Type})
		return
	}
	switch {
	case e.AllUsers && len(e.Recipients) > 0:
		v.Add(prefix+"recipients", "errors.notify.recipients", nil)
	case !e.AllUsers && len(e.Recipients) == 0:
		v.Add(prefix+"recipients", "errors.notify.recipients", nil)
	case len(e.Recipients) > MaxRecipients:
		v.Add(prefix+"recipients", "errors.notify.too_many_recipients", map[string]any{"Max": MaxRecipients})
	}
	switch {
	case utf8.RuneCountInString(e.DedupeKey) > MaxDedupeKey:
		v.Add(prefix+"dedupe_key", "errors.field.too_long", map[string]any{"Count": MaxDedupeKey})
	case !plainText(e.DedupeKey):
		v.Add(prefix+"dedupe_key", "errors.notify.dedupe_key", nil)
	}
	// Normalised on a copy: the caller's map is theirs.
	e.Data = maps.Clone(e.Data)
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	checkData(v, prefix+"data.", t, e.Data)
}

// checkData validates data against the type's fields and normalises it
// (integers as int64, text trimmed).
func checkData(v *core.Invalid, prefix string, t *Type, data map[string]any) {
	for name := range data {
		if _, ok := t.Field(name); !ok {
			v.Add(prefix+name, "errors.notify.unknown_field", map[string]any{"Field": name})
		}
	}
	for _, f := range t.AllFields() {
		raw, present := data[f.Name]
		if !present || raw == nil {
			if f.Required {
				v.Add(prefix+f.Name, "errors.field.required", nil)
			}
			delete(data, f.Name)
			continue
		}
		switch f.Kind {
		case Text, Enum, Link:
			str, ok := raw.(string)
			if !ok {
				v.Add(prefix+f.Name, "errors.notify.not_text", nil)
				continue
			}
			str = strings.TrimSpace(str)
			limit := MaxText
			switch {
			case f.Name == "title":
				limit = MaxTitle
			case f.Kind == Link:
				limit = MaxURL
			}
			switch {
			case str == "" && f.Required:
				v.Add(prefix+f.Name, "errors.field.required", nil)
			case utf8.RuneCountInString(str) > limit:
				v.Add(prefix+f.Name, "errors.field.too_long", map[string]any{"Count": limit})
			case !utf8.ValidString(str) || strings.ContainsRune(str, 0):
				v.Add(prefix+f.Name, "errors.notify.not_text", nil)
			case f.Kind == Enum && !contains(f.Values, str):
				v.Add(prefix+f.Name, "errors.notify.not_one_of", map[string]any{"Values": strings.Join(f.Values, ", ")})
			case f.Kind == Link && str != "" && !webURL(str):
				v.Add(prefix+f.Name, "errors.notify.url", nil)
			}
			data[f.Name] = str
		case Count:
			n, ok := integer(raw)
			if !ok || n < 0 || n > MaxCount {
				v.Add(prefix+f.Name, "errors.notify.count", map[string]any{"Max": MaxCount})
				continue
			}
			data[f.Name] = n
		}
	}
}

// plainText is valid UTF-8 without control characters.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), n == float64(int64(n))
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// webURL accepts absolute http and https URLs only: a link in a
// notification must never run script (javascript:) or leave the web.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func unique(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
