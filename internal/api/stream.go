package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
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
			w, _ := hc.BodyWriter().(http.ResponseWriter)
			if w == nil {
				a.deps.Live.Unsubscribe(sub)
				return
			}
			setStreamHeaders(w.Header())
			if conn, ok := hijackStream(w); ok {
				// The stream outlives the request: net/http's goroutines
				// for it end now, and two small ones of its own carry on.
				ctx, cancel := context.WithCancel(context.WithoutCancel(hc.Context()))
				go watchClosed(conn, cancel)
				go func() {
					defer conn.Close()
					defer cancel()
					defer a.deps.Live.Unsubscribe(sub)
					a.stream(ctx, rawStream{conn}, viewer, sub, after, resume, stillValid)
				}()
				return
			}
			defer a.deps.Live.Unsubscribe(sub)
			w.WriteHeader(http.StatusOK)
			a.stream(hc.Context(), sseWriter{w: w, rc: http.NewResponseController(w)}, viewer, sub, after, resume, stillValid)
		}}, nil
	})
}

// streamOut writes one stream's events and keep-alive comments.
type streamOut interface {
	event(id int64, name string, data any) error
	comment() error
}

func setStreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
}

// appendEvent appends one Server-Sent Event to dst.
func appendEvent(dst []byte, id int64, name string, data any) ([]byte, error) {
	buf, err := json.Marshal(data)
	if err != nil {
		return dst, err
	}
	dst = append(dst, "id: "...)
	dst = strconv.AppendInt(dst, id, 10)
	dst = append(dst, "\nevent: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, buf...)
	return append(dst, "\n\n"...), nil
}

const keepAlive = ": keep-alive\n\n"

// sseWriter writes Server-Sent Events through net/http (HTTP/2, or where
// the connection cannot be taken over) and flushes each.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (s sseWriter) event(id int64, name string, data any) error {
	b, err := appendEvent(nil, id, name, data)
	if err != nil {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s sseWriter) comment() error {
	if _, err := io.WriteString(s.w, keepAlive); err != nil {
		return err
	}
	return s.rc.Flush()
}

// streamWriteTimeout bounds one write to a taken-over stream: a client
// that stops reading loses its stream instead of holding it forever.
var streamWriteTimeout = 30 * time.Second

// rawStream writes Server-Sent Events straight to a connection taken over
// from net/http; the response ends when the connection closes.
type rawStream struct{ conn net.Conn }

func (s rawStream) write(b []byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	_, err := s.conn.Write(b)
	return err
}

func (s rawStream) event(id int64, name string, data any) error {
	b, err := appendEvent(make([]byte, 0, 256), id, name, data)
	if err != nil {
		return err
	}
	return s.write(b)
}

func (s rawStream) comment() error { return s.write([]byte(keepAlive)) }

// hijackStream takes an HTTP/1.1 stream's connection over from net/http
// and sends the response head itself, the body to be ended by closing the
// connection. An idle stream then costs a connection and two small
// goroutines instead of net/http's serving goroutine, deep in the
// handler's stack, and its background reader: about half of what it
// held. It reports false where a connection cannot be taken over
// (HTTP/2, a recorder in tests), and the stream goes through net/http.
func hijackStream(w http.ResponseWriter) (net.Conn, bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, false
	}
	h := w.Header().Clone()
	h.Del("Content-Length")
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&head)
	head.WriteString("\r\n")
	if err := (rawStream{conn}).write(head.Bytes()); err != nil {
		conn.Close()
		return nil, true // taken over and gone: nothing more to send
	}
	return conn, true
}

// watchClosed reads a taken-over stream's connection until the client
// closes it (a stream's client sends nothing), and then ends the stream.
func watchClosed(conn net.Conn, cancel context.CancelFunc) {
	defer cancel()
	var b [64]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			return
		}
	}
}

// stream sends the viewer's feed after a resumed position, or from now
// with a hello, until the client leaves or the server shuts down.
func (a *API) stream(ctx context.Context, out streamOut, viewer *core.User, sub *live.Sub, after int64, resume bool, stillValid func(context.Context) bool) {
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
