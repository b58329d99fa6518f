package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"roster/internal/core"
)

// RouteClass says how long a route may take to read its request and write
// its answer. The server sets no ReadTimeout or WriteTimeout (only
// ReadHeaderTimeout), so these per-route deadlines rule.
type RouteClass int

const (
	ClassDefault RouteClass = iota // forms and JSON: short deadlines
	ClassUpload                    // file uploads (photos): longer ones
	ClassStream                    // long-lived answers (event streams): none
)

// Timeouts are the deadlines of each class, counted from the moment the
// request's headers were read. Read bounds a client trickling its body;
// Write bounds one that reads the answer slowly; Work bounds the handler
// itself: its context ends then, so a handler blocked in the database (a
// lock held elsewhere, a server gone quiet) is cancelled and answers 503
// while the connection can still carry the answer.
type Timeouts struct {
	Read, Write, Work                   time.Duration // ClassDefault
	UploadRead, UploadWrite, UploadWork time.Duration // ClassUpload
	// Header bounds reading a request's headers, for every route (the
	// server's ReadHeaderTimeout): a client trickling them is cut then.
	Header time.Duration
}

// DefaultTimeouts closes a connection trickling a form or JSON body within
// 20 s, an upload within 2 min; a handler gets 25 s of work (an upload
// 140 s), 5 s (10 s) short of its write deadline.
var DefaultTimeouts = Timeouts{Read: 20 * time.Second, Write: 30 * time.Second, Work: 25 * time.Second,
	UploadRead: 2 * time.Minute, UploadWrite: 150 * time.Second, UploadWork: 140 * time.Second, Header: 10 * time.Second}

// WithDefaults fills zero fields from DefaultTimeouts. A Work left zero
// with its Write set shorter than the default Work is five sixths of that
// Write, so the handler's 503 still has time to be written.
func (t Timeouts) WithDefaults() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ work, write, def *time.Duration }{{&t.Work, &t.Write, &d.Work}, {&t.UploadWork, &t.UploadWrite, &d.UploadWork}} {
		if *f.work <= 0 && *f.write > 0 && *f.write <= *f.def {
			*f.work = *f.write * 5 / 6
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{{&t.Read, &d.Read}, {&t.Write, &d.Write}, {&t.Work, &d.Work},
		{&t.UploadRead, &d.UploadRead}, {&t.UploadWrite, &d.UploadWrite}, {&t.UploadWork, &d.UploadWork}, {&t.Header, &d.Header}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// ErrOvertime answers a request whose handler ran out of its Work time.
var ErrOvertime = &core.Error{Code: core.EUNAVAILABLE, Key: "errors.took_too_long", RetryAfter: 5 * time.Second}

// Overtime returns err as ErrOvertime (with err inside, for the log) when
// the request behind ctx ran out of its Work time and err is not an
// answer of the domain: whatever the driver made of the cancellation
// (SQLite's interrupt, PostgreSQL's 57014, database/sql's wait for a
// connection), the context says what happened. Other errors pass as they
// are.
func Overtime(ctx context.Context, err error) error {
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	if c := core.ErrorCode(err); c != core.EINTERNAL && c != core.EUNAVAILABLE {
		return err
	}
	e := *ErrOvertime
	e.Err = err
	return &e
}

// RouteClasses maps route patterns ("PUT /api/v1/users/{id}/photo") to
// their class; every other route is ClassDefault. Patterns are matched
// like the ServeMux does, wildcards included.
type RouteClasses struct {
	mux      *http.ServeMux
	prefixes []string // each pattern's path up to its first wildcard
}

type classHandler RouteClass

func (classHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// NewRouteClasses builds the classifier; it panics on an invalid pattern,
// like ServeMux.Handle.
func NewRouteClasses(patterns map[string]RouteClass) *RouteClasses {
	mux := http.NewServeMux()
	var prefixes []string
	for p, c := range patterns {
		mux.Handle(p, classHandler(c))
		path := p[strings.IndexByte(p, ' ')+1:]
		path, _, _ = strings.Cut(path, "{")
		if !strings.HasPrefix(path, "/") { // a host pattern: let the mux decide
			path = "/"
		}
		prefixes = append(prefixes, path)
	}
	return &RouteClasses{mux: mux, prefixes: prefixes}
}

// Of returns the class of r's route.
func (c *RouteClasses) Of(r *http.Request) RouteClass {
	if c == nil {
		return ClassDefault
	}
	// Most requests' paths start with no pattern's literal part: they are
	// ClassDefault without asking the mux, whose miss works out the
	// methods of a 405 (23 allocations a request).
	if !slices.ContainsFunc(c.prefixes, func(p string) bool { return strings.HasPrefix(r.URL.Path, p) }) {
		return ClassDefault
	}
	if h, _ := c.mux.Handler(r); h != nil {
		if ch, ok := h.(classHandler); ok {
			return RouteClass(ch)
		}
	}
	return ClassDefault
}

// Deadlines sets the read and write deadlines of each request's connection
// by its route class, through http.ResponseController, before any handler
// reads the body, and ends the request's context after its class's Work
// time (streams have none). Put it outside every middleware that reads
// the body.
// Every request sets its own, so a kept-alive connection never carries the
// previous request's deadlines into the next.
//
// The read deadline bounds reading the body, and only that: it is lifted
// once the body has been read to its end (or at once when there is none).
// net/http reads the connection in the background while a handler runs,
// and a read deadline passing then cancels the request's context: a
// sign-in waiting its turn for the password hasher, or any slow answer,
// would be cut off although the client is there.
func Deadlines(t Timeouts, classes *RouteClasses) Middleware {
	t = t.WithDefaults()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var read, write, work time.Time // zero: no deadline
			now := time.Now()
			switch classes.Of(r) {
			case ClassDefault:
				read, write, work = now.Add(t.Read), now.Add(t.Write), now.Add(t.Work)
			case ClassUpload:
				read, write, work = now.Add(t.UploadRead), now.Add(t.UploadWrite), now.Add(t.UploadWork)
			}
			if !work.IsZero() {
				ctx, cancel := context.WithDeadline(r.Context(), work)
				defer cancel()
				r = r.WithContext(ctx)
			}
			rc := http.NewResponseController(w)
			if r.Body == nil || r.Body == http.NoBody {
				read = time.Time{}
			} else if !read.IsZero() {
				r.Body = &liftAtEnd{ReadCloser: r.Body, left: r.ContentLength, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
			}
			// A writer without deadlines (a test recorder) is no error.
			if err := rc.SetReadDeadline(read); err != nil && !errors.Is(err, http.ErrNotSupported) {
				Logger(r.Context()).Warn("set read deadline", "err", err)
			}
			if err := rc.SetWriteDeadline(write); err != nil && !errors.Is(err, http.ErrNotSupported) {
				Logger(r.Context()).Warn("set write deadline", "err", err)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// liftAtEnd lifts the read deadline once the body has been read to its
// end: its Content-Length read (readers that know the length, such as
// huma's, stop there without asking for EOF), or EOF.
type liftAtEnd struct {
	io.ReadCloser
	left int64 // bytes of a known length still to come; -1: unknown
	lift func()
	done bool
}

func (b *liftAtEnd) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.left >= 0 {
		b.left -= int64(n)
	}
	if !b.done && (err == io.EOF || b.left == 0) {
		b.done = true
		b.lift()
	}
	return n, err
}
