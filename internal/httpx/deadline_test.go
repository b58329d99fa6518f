package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
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
