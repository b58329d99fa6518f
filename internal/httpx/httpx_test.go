package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestChainOrder(t *testing.T) {
	var got []string
	mark := func(name string) Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = append(got, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = append(got, "handler") }),
		mark("outer"), nil, mark("inner"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if s := strings.Join(got, ","); s != "outer,inner,handler" {
		t.Fatalf("order = %s, want outer,inner,handler", s)
	}
}

func TestStatusWriter(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBytes  int64
		written    bool
	}{
		{"nothing", func(http.ResponseWriter, *http.Request) {}, 200, 0, false},
		{"implicit 200", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello")) }, 200, 5, true},
		{"explicit", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("tea"))
		}, 418, 3, true},
		{"informational first", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, 201, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sw := NewStatusWriter(httptest.NewRecorder())
			tt.handler(sw, httptest.NewRequest("GET", "/", nil))
			if sw.Status() != tt.wantStatus || sw.Bytes() != tt.wantBytes || sw.Written() != tt.written {
				t.Fatalf("status %d bytes %d written %v, want %d %d %v",
					sw.Status(), sw.Bytes(), sw.Written(), tt.wantStatus, tt.wantBytes, tt.written)
			}
		})
	}
}

func TestStatusWriterReuseAndUnwrap(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := NewStatusWriter(rec)
	if NewStatusWriter(sw) != sw {
		t.Fatal("NewStatusWriter wrapped a *StatusWriter again")
	}
	if sw.Unwrap() != rec {
		t.Fatal("Unwrap did not return the wrapped writer")
	}
	// ResponseController reaches the recorder's Flush through Unwrap.
	if err := http.NewResponseController(sw).Flush(); err != nil {
		t.Fatalf("Flush via ResponseController: %v", err)
	}
	if !rec.Flushed {
		t.Fatal("recorder not flushed")
	}
}
