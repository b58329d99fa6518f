package webpush

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Timeout bounds one push request, connecting included.
const Timeout = 10 * time.Second

// ErrRefusedAddress is a push endpoint that resolved to an address Roster
// does not connect to (loopback, private, link-local, ...).
var ErrRefusedAddress = errors.New("webpush: the endpoint's address is not public")

// refused are ranges no push service lives in, beyond what netip's
// predicates name: "this network", CGNAT (100.64/10), IETF protocol
// assignments, benchmarking, documentation, the reserved 240/4 and
// local-use NAT64.
var refused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// allowedAddr reports whether Roster may connect to ip: in one of the
// operator's (or a test's) allowed networks, or a public unicast address.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func allowedAddr(allowed []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range allowed {
		if p.Contains(ip) {
			return true
		}
	}
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || !ip.IsGlobalUnicast() {
		return false
	}
	for _, p := range refused {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// NewHTTPClient returns the client pushes are sent with: it connects only
// to public addresses (checked on the address actually dialled, after DNS
// resolution, so a name resolving to 127.0.0.1 is refused too) or to
// allowed; follows no redirect; ignores proxy settings of the environment;
// gives every request Timeout; and keeps up to 64 idle connections per
// push service.
func NewHTTPClient(allowed []netip.Prefix) *http.Client {
	dialer := &net.Dialer{
		Timeout:   Timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %q", ErrRefusedAddress, address)
			}
			if !allowedAddr(allowed, ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrRefusedAddress, ap.Addr())
			}
			return nil
		},
	}
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   Timeout,
		ResponseHeaderTimeout: Timeout,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
