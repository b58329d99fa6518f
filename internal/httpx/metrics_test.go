package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterValues gathers reg and returns roster_http_requests_total by
// "method route status".
func counterValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "roster_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labels(m, "method")+" "+labels(m, "route")+" "+labels(m, "status")] = m.GetCounter().GetValue()
		}
	}
	return out
}

func labels(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func histogramCount(t *testing.T, reg *prometheus.Registry, method, route string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "roster_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labels(m, "method") == method && labels(m, "route") == route {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("user"))
	})
	return mux
}

func TestMetricsRoutePattern(t *testing.T) {
	copying := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(r.Context()))
		})
	}
	tests := []struct {
		name  string
		build func(m *Metrics) http.Handler
		route string // expected label for the matched requests
	}{
		{"wrapping the mux", func(m *Metrics) http.Handler {
			return Chain(testMux(), RequestID, Logging(nil), m.Middleware)
		}, "GET /users/{id}"},
		{"copy in between, CaptureRoute", func(m *Metrics) http.Handler {
			return Chain(CaptureRoute(testMux()), m.Middleware, copying)
		}, "GET /users/{id}"},
		{"MaxBytes in between", func(m *Metrics) http.Handler {
			return Chain(testMux(), m.Middleware, MaxBytes(10))
		}, "GET /users/{id}"},
		// The pitfall CaptureRoute exists for.
		{"copy in between, no CaptureRoute", func(m *Metrics) http.Handler {
			return Chain(testMux(), m.Middleware, copying)
		}, "unmatched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h := tt.build(NewMetrics(reg))
			for _, target := range []string{"/users/1", "/users/2", "/users/missing", "/nope"} {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/users/1", nil))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/users/1", nil))

			got := counterValues(t, reg)
			want := map[string]float64{
				"GET " + tt.route + " 200": 2,
				"GET " + tt.route + " 404": 1,
				"GET unmatched 404":        1,
				"DELETE unmatched 405":     1,
				"OTHER unmatched 405":      1,
			}
			if tt.route == "unmatched" {
				want = map[string]float64{
					"GET unmatched 200": 2, "GET unmatched 404": 2,
					"DELETE unmatched 405": 1, "OTHER unmatched 405": 1,
				}
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
				}
			}
			if len(got) != len(want) {
				t.Errorf("series = %v, want %v", got, want)
			}
			for k := range got {
				if k == "GET /users/1 200" || k == "GET /users/2 200" {
					t.Errorf("raw path used as route: %s", k)
				}
			}
			if n := histogramCount(t, reg, "GET", tt.route); n == 0 {
				t.Errorf("no duration samples for %s", tt.route)
			}
		})
	}
}

func TestNewMetricsTwiceSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewMetrics(reg)
	b := NewMetrics(reg) // must not panic
	a.Middleware(testMux()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/1", nil))
	b.Middleware(testMux()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/1", nil))
	if got := counterValues(t, reg)["GET GET /users/{id} 200"]; got != 2 {
		t.Fatalf("count = %v, want 2 (shared collectors)", got)
	}
}
