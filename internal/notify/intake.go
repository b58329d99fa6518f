package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
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

// FanoutArgs is the durable job that fans an event out to its recipients.
type FanoutArgs struct {
	EventID int64 `json:"event_id"`
}

// Kind implements river.JobArgs.
func (FanoutArgs) Kind() string { return "notify.fanout" }

// InsertOpts puts fan-outs on the notification queue.
func (FanoutArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: jobs.QueueNotify} }

// Intake validates events posted by actor (an integration's token user)
// and stores them with their fan-out jobs, all or nothing: one invalid
// event (field errors are prefixed "events[i]." when there are several)
// stores none.
func (s *Service) Intake(ctx context.Context, actor *core.User, in []EventInput) ([]Accepted, error) {
	var v core.Invalid
	if len(in) == 0 || len(in) > MaxBatch {
		v.Add("events", "errors.notify.batch_size", map[string]any{"Max": MaxBatch})
		return nil, v.Err()
	}
	prefix := func(i int) string {
		if len(in) == 1 {
			return ""
		}
		return fmt.Sprintf("events[%d].", i)
	}
	var named []int64
	for i := range in {
		s.check(&v, prefix(i), &in[i])
		named = append(named, in[i].Recipients...)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := make([]Accepted, len(in))
	err := s.db.InTx(ctx, func(q *store.Q) error {
		// Every named recipient must be a user of the actor's workspace.
		users, err := q.UsersByID(ctx, actor.WorkspaceID, unique(named))
		if err != nil {
			return err
		}
		known := make(map[int64]bool, len(users))
		for _, u := range users {
			known[u.ID] = true
		}
		for i, e := range in {
			for j, id := range e.Recipients {
				if !known[id] {
					v.Add(fmt.Sprintf("%srecipients[%d]", prefix(i), j), "errors.notify.unknown_recipient", map[string]any{"ID": id})
				}
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		jobs := make([]river.InsertManyParams, 0, len(in))
		for i, e := range in {
			ev := &core.NotifyEvent{WorkspaceID: actor.WorkspaceID, Type: e.Type, Data: e.Data, Recipients: unique(e.Recipients),
				AllUsers: e.AllUsers, ActorID: actor.ID, DedupeKey: e.DedupeKey, OccurredAt: e.OccurredAt}
			if ev.OccurredAt.IsZero() {
				ev.OccurredAt = s.db.Now()
			}
			dup, err := q.InsertNotifyEvent(ctx, ev)
			if err != nil {
				return err
			}
			out[i] = Accepted{ID: ev.ID, Duplicate: dup}
			if !dup {
				jobs = append(jobs, river.InsertManyParams{Args: FanoutArgs{EventID: ev.ID}})
			}
		}
		return s.jobs.InsertManyTx(ctx, q.Tx, jobs)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
	if len(e.DedupeKey) > MaxDedupeKey {
		v.Add(prefix+"dedupe_key", "errors.field.too_long", map[string]any{"Count": MaxDedupeKey})
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
