package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
	"roster/internal/live"
	"roster/internal/notify"
)

// StreamHeartbeat is how often an idle stream sends a comment (keeping
// proxies from closing it) and looks at the feed in case a wake-up was
// missed.
var StreamHeartbeat = 15 * time.Second

type streamInput struct {
	LastEventID string `header:"Last-Event-ID" doc:"The id of the last event received: the stream resumes after it, nothing lost or repeated."`
}

// StreamEvent is the data of one stream event. The event name is the
// kind: hello (first, with the count), new, read, unread, read_all, or
// reset (the stream could not resume: reload the list).
type StreamEvent struct {
	Unread       int64         `json:"unread"`
	ID           int64         `json:"id,omitempty" doc:"The notification read or unread."`
	Notification *Notification `json:"notification,omitempty" doc:"For new."`
}

func (a *API) registerStream() {
	op := a.op(huma.Operation{OperationID: "stream-my-notifications", Method: http.MethodGet, Path: "/me/notifications/stream",
		Summary: "Server-Sent Events of my notifications",
		Description: "A text/event-stream of new notifications and read-state changes, each with the unread count after it. " +
			"Event ids are numbers per person; reconnect with Last-Event-ID to resume. At most 10 streams per person (429 beyond). " +
			"A comment line is sent every 15 seconds, after the session or token is checked again: the stream ends once it is " +
			"signed out, revoked or its user deactivated.",
		Tags: []string{"Notifications"}, Security: signedIn, Errors: []int{http.StatusTooManyRequests}})
	op.Responses = map[string]*huma.Response{"200": {Description: "The stream.",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: huma.TypeString}}}}}
	huma.Register(a.humaAPI, op, func(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
		viewer := principal(ctx).User
		sub, err := a.deps.Live.Subscribe(viewer.ID)
		if err != nil {
			return nil, a.fail(ctx, err)
		}
		after, resume := int64(0), false
		if n, err := strconv.ParseInt(in.LastEventID, 10, 64); err == nil && n >= 0 {
			after, resume = n, true
		}
		st := stateFrom(ctx)
		// Checked again on every heartbeat: a stream must end once its
		// session is signed out or revoked, or its user deactivated.
		stillValid := func(ctx context.Context) bool {
			p, err := a.deps.Auth.Authenticate(ctx, st.credential, st.ip)
			return err == nil && p.User.ID == viewer.ID
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			defer a.deps.Live.Unsubscribe(sub)
			a.stream(hc.Context(), hc.BodyWriter(), viewer, sub, after, resume, stillValid)
		}}, nil
	})
}

// sseWriter writes Server-Sent Events and flushes each.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (s sseWriter) event(id int64, name string, data any) error {
	buf, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "id: %d\nevent: %s\ndata: %s\n\n", id, name, buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s sseWriter) comment() error {
	if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// stream sends the viewer's feed after a resumed position, or from now
// with a hello, until the client leaves or the server shuts down.
func (a *API) stream(ctx context.Context, body io.Writer, viewer *core.User, sub *live.Sub, after int64, resume bool, stillValid func(context.Context) bool) {
	w, _ := body.(http.ResponseWriter)
	if w == nil {
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := sseWriter{w: w, rc: http.NewResponseController(w)}
	svc := a.deps.Notify
	if !resume {
		unread, seq, err := svc.Position(ctx, viewer)
		if err != nil || out.event(seq, "hello", StreamEvent{Unread: unread}) != nil {
			return
		}
		after = seq
	}
	// emit sends one feed entry (n: its notification, for a new one)
	// and moves the position past it.
	emit := func(e core.FeedEntry, n *core.Notification) bool {
		ev := StreamEvent{Unread: e.Unread, ID: e.NotificationID}
		if n != nil && e.Kind == core.FeedNew {
			ev.Notification = toNotification(n)
		}
		if out.event(e.Seq, e.Kind, ev) != nil {
			return false
		}
		after = e.Seq
		return true
	}
	send := func() bool {
		for {
			entries, notes, err := svc.Feed(ctx, viewer, after, 200)
			if errors.Is(err, notify.FeedGone) {
				unread, seq, err := svc.Position(ctx, viewer)
				if err != nil || out.event(seq, "reset", StreamEvent{Unread: unread}) != nil {
					return false
				}
				after = seq
				return true
			}
			if err != nil {
				return false
			}
			for _, e := range entries {
				if !emit(e, notes[e.NotificationID]) {
					return false
				}
			}
			if len(entries) < 200 {
				return true
			}
		}
	}
	// sendHeld sends entries this instance published, when they follow
	// the last one sent; it reports false when the feed must be read.
	sendHeld := func(entries []core.FeedEntry) (handled, ok bool) {
		for _, e := range entries {
			if e.Seq <= after {
				continue // sent already (read with an earlier one)
			}
			if e.Seq != after+1 || (e.Kind == core.FeedNew && e.Note == nil) {
				return false, true // a gap: another change is not held here
			}
			if !emit(e, e.Note) {
				return true, false
			}
		}
		return true, true
	}
	// A resumed stream first sends what it missed. A new one has nothing
	// to catch up on: it subscribed before reading its position, so what
	// came after that position wakes it.
	if resume && !send() {
		return
	}
	tick := time.NewTicker(StreamHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.deps.Live.Done():
			return
		case <-sub.C:
			if entries, stale := sub.Take(); !stale {
				handled, ok := sendHeld(entries)
				if !ok {
					return
				}
				if handled {
					continue
				}
			}
		case <-tick.C:
			if !stillValid(ctx) || out.comment() != nil {
				return
			}
		}
		if !send() {
			return
		}
	}
}
