package httpx

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP resolves the client address of a request. Forwarding headers
// (X-Forwarded-For, X-Real-Ip) are believed only when the direct peer is
// one of TrustedProxies; otherwise anyone could spoof their address and
// dodge rate limits.
type ClientIP struct {
	TrustedProxies []netip.Prefix
}

// Of returns the client IP of r as a string. With a trusted peer it walks
// X-Forwarded-For from the right, skipping trusted proxies, and returns the
// first address that is not one (the left part is client-controlled). If
// there is no X-Forwarded-For it uses X-Real-Ip.
func (c ClientIP) Of(r *http.Request) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !c.trusted(peer) {
		return peer.String()
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		var hops []string
		for _, v := range xff {
			hops = append(hops, strings.Split(v, ",")...)
		}
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseAddr(strings.TrimSpace(hops[i]))
			if !ok {
				// Garbage: stop at the last address we could trust.
				break
			}
			client = a
			if !c.trusted(a) {
				break
			}
		}
		return client.String()
	}
	if a, ok := parseAddr(strings.TrimSpace(r.Header.Get("X-Real-Ip"))); ok {
		return a.String()
	}
	return peer.String()
}

// Middleware stores the resolved client IP in the context, where Logging
// and handlers find it with ClientIPFrom.
func (c ClientIP) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), clientIPKey{}, c.Of(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type clientIPKey struct{}

// ClientIPFrom returns the client IP stored by ClientIP.Middleware, or "".
func ClientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

func (c ClientIP) trusted(a netip.Addr) bool {
	for _, p := range c.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr accepts "ip", "ip:port" and "[ipv6]:port", and unmaps
// IPv4-in-IPv6 so prefixes like 10.0.0.0/8 match.
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
