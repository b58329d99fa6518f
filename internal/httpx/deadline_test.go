package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"roster/internal/core"
)

// deadlineRecorder is a ResponseWriter that records the deadlines set
// through http.ResponseController.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	read, write time.Time
	set         int
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error  { d.read = t; d.set++; return nil }
func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error { d.write = t; d.set++; return nil }

func TestDeadlinesPerRouteClass(t *testing.T) {
	// The production default closes a trickled form or JSON body within 30 s.
	if DefaultTimeouts.Read > 30*time.Second || DefaultTimeouts.Read <= 0 || DefaultTimeouts.UploadRead > 2*time.Minute {
		t.Fatalf("default timeouts %+v", DefaultTimeouts)
	}
	classes := NewRouteClasses(map[string]RouteClass{
		"PUT /api/v1/users/{id}/photo": ClassUpload,
		"GET /events":                  ClassStream,
	})
	h := Deadlines(Timeouts{Read: time.Second, Write: 2 * time.Second, UploadRead: time.Minute, UploadWrite: 2 * time.Minute}, classes)(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct {
		method, path string
		read, write  time.Duration // 0: no deadline
	}{
		{"POST", "/login", time.Second, 2 * time.Second},
		{"PUT", "/api/v1/users/42/photo", time.Minute, 2 * time.Minute},
		{"POST", "/api/v1/users/42/photo", time.Second, 2 * time.Second}, // another method is no upload
		{"GET", "/events", 0, 0},
		{"GET", "/nowhere", time.Second, 2 * time.Second},
	} {
		w := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		before := time.Now()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader("body")))
		if w.set != 2 {
			t.Errorf("%s %s: %d deadlines set, want read and write", c.method, c.path, w.set)
		}
		for _, d := range []struct {
			got  time.Time
			want time.Duration
		}{{w.read, c.read}, {w.write, c.write}} {
			if c.read == 0 {
				if !d.got.IsZero() {
					t.Errorf("%s %s: deadline %v, want none", c.method, c.path, d.got)
				}
				continue
			}
			if d.got.Before(before.Add(d.want)) || d.got.After(time.Now().Add(d.want)) {
				t.Errorf("%s %s: deadline %v from now, want %v", c.method, c.path, d.got.Sub(before), d.want)
			}
		}
	}
}

// TestReadDeadlineEndsWithTheBody: a handler that has read its body and
// then takes longer than the read deadline (a sign-in waiting for the
// password hasher) keeps its request: its context is not cancelled, and
// the client gets the answer. So does one with no body at all.
func TestReadDeadlineEndsWithTheBody(t *testing.T) {
	h := Deadlines(Timeouts{Read: 200 * time.Millisecond, Write: 5 * time.Second}, nil)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-time.After(600 * time.Millisecond):
			case <-r.Context().Done():
				return // cut off: the client sees the connection close
			}
			_, _ = io.WriteString(w, "done")
		}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, body := range []io.Reader{strings.NewReader("email=a"), nil} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/login", body)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("body %v: %v", body != nil, err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(got) != "done" {
			t.Fatalf("body %v: the handler was cut off (%q)", body != nil, got)
		}
	}
}

// TestWorkEndsBeforeTheWriteDeadline: the defaults give a handler 5 s (an
// upload 10 s) less than its write deadline, and a Write set shorter than
// the default Work leaves the handler five sixths of it, so the 503 of a
// cancelled handler can still be written.
func TestWorkEndsBeforeTheWriteDeadline(t *testing.T) {
	d := Timeouts{}.WithDefaults()
	if d.Work != 25*time.Second || d.Write != 30*time.Second || d.UploadWork != 140*time.Second || d.UploadWrite != 150*time.Second ||
		d.Header != 10*time.Second {
		t.Fatalf("defaults: %+v", d)
	}
	short := Timeouts{Write: 6 * time.Second, UploadWrite: 12 * time.Second}.WithDefaults()
	if short.Work != 5*time.Second || short.UploadWork != 10*time.Second {
		t.Fatalf("with short writes: %+v", short)
	}
	if set := (Timeouts{Write: 6 * time.Second, Work: time.Second}).WithDefaults(); set.Work != time.Second {
		t.Fatalf("a Work given: %+v", set)
	}
}

// TestOvertimeKeepsTheDomainsAnswers: once the Work time has passed, an
// internal or unavailable error becomes ErrOvertime; an answer of the
// domain (a field error, not found) stays what it is, and before the
// deadline nothing changes.
func TestOvertimeKeepsTheDomainsAnswers(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	driver := errors.New("interrupted (9)")
	if err := Overtime(ctx, driver); core.AsError(err) == nil || core.AsError(err).Key != "errors.took_too_long" || !errors.Is(err, driver) {
		t.Fatalf("a driver's error after the deadline: %v", err)
	}
	if err := Overtime(ctx, core.ErrNotFound); err != core.ErrNotFound {
		t.Fatalf("not found after the deadline: %v", err)
	}
	if err := Overtime(context.Background(), driver); err != driver {
		t.Fatalf("before any deadline: %v", err)
	}
	if Overtime(ctx, nil) != nil {
		t.Fatal("nil became an error")
	}
}

// TestRouteClassOfOtherRoutesCostsNoMore: a route outside the classes (most
// requests) is classified with no more allocations than a classed route
// with a wildcard: a miss in the classes' mux works out the methods of a
// 405 (23 allocations a request when every request asked it). Routes that
// share a class's literal part but not its pattern still get theirs.
func TestRouteClassOfOtherRoutesCostsNoMore(t *testing.T) {
	classes := NewRouteClasses(map[string]RouteClass{"PUT /api/v1/users/{id}/photo": ClassUpload, "GET /api/v1/me/notifications/stream": ClassStream})
	allocs := func(method, path string, want RouteClass) float64 {
		r := httptest.NewRequest(method, path, nil)
		return testing.AllocsPerRun(100, func() {
			if c := classes.Of(r); c != want {
				t.Fatalf("%s %s: class %v, want %v", method, path, c, want)
			}
		})
	}
	other, classed := allocs(http.MethodGet, "/api/v1/me", ClassDefault), allocs(http.MethodPut, "/api/v1/users/42/photo", ClassUpload)
	if other > classed {
		t.Errorf("GET /api/v1/me: %v allocations, a classed route with a wildcard %v", other, classed)
	}
	for _, c := range []struct {
		method, path string
		want         RouteClass
	}{
		{http.MethodGet, "/api/v1/users/42/photo", ClassDefault},
		{http.MethodPut, "/api/v1/users/42", ClassDefault},
		{http.MethodPut, "/api/v1/users/%34%32/photo", ClassUpload},
		{http.MethodHead, "/api/v1/me/notifications/stream", ClassStream},
	} {
		if got := classes.Of(httptest.NewRequest(c.method, c.path, nil)); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.method, c.path, got, c.want)
		}
	}
}
