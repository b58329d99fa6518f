package httpx

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestClientIP(t *testing.T) {
	trusted := ClientIP{TrustedProxies: mustPrefixes(t, "10.0.0.0/8", "fd00::/8")}
	tests := []struct {
		name   string
		c      ClientIP
		remote string
		xff    []string
		realIP string
		want   string
	}{
		{"no proxies configured", ClientIP{}, "203.0.113.5:1234", []string{"1.1.1.1"}, "2.2.2.2", "203.0.113.5"},
		{"untrusted peer ignores headers", trusted, "203.0.113.5:1234", []string{"1.1.1.1"}, "2.2.2.2", "203.0.113.5"},
		{"trusted peer, xff", trusted, "10.0.0.1:1234", []string{"198.51.100.7"}, "", "198.51.100.7"},
		{"spoofed left part ignored", trusted, "10.0.0.1:1234", []string{"6.6.6.6, 198.51.100.7"}, "", "198.51.100.7"},
		{"proxy chain skipped", trusted, "10.0.0.1:1234", []string{"198.51.100.7, 10.0.0.2", "10.0.0.3"}, "", "198.51.100.7"},
		{"all trusted takes leftmost", trusted, "10.0.0.1:1234", []string{"10.0.0.9, 10.0.0.2"}, "", "10.0.0.9"},
		{"garbage stops walk", trusted, "10.0.0.1:1234", []string{"198.51.100.7, nonsense, 10.0.0.2"}, "", "10.0.0.2"},
		{"xff with port", trusted, "10.0.0.1:1234", []string{"198.51.100.7:4711"}, "", "198.51.100.7"},
		{"x-real-ip", trusted, "10.0.0.1:1234", nil, "198.51.100.8", "198.51.100.8"},
		{"bad x-real-ip", trusted, "10.0.0.1:1234", nil, "nope", "10.0.0.1"},
		{"ipv6 peer", trusted, "[fd00::1]:443", []string{"2001:db8::5"}, "", "2001:db8::5"},
		{"ipv4-mapped peer", trusted, "[::ffff:10.0.0.1]:443", []string{"198.51.100.7"}, "", "198.51.100.7"},
		{"unparsable remote", trusted, "pipe", nil, "", "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				req.Header.Set("X-Real-Ip", tt.realIP)
			}
			if got := tt.c.Of(req); got != tt.want {
				t.Fatalf("Of = %q, want %q", got, tt.want)
			}
			var inCtx string
			tt.c.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				inCtx = ClientIPFrom(r.Context())
			})).ServeHTTP(httptest.NewRecorder(), req)
			if inCtx != tt.want {
				t.Fatalf("ClientIPFrom = %q, want %q", inCtx, tt.want)
			}
		})
	}
}
