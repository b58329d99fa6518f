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
	// An IPv6 address that carries an IPv4 one reaches it through a
	// translator (NAT64, 6to4) or is the old compatible form: judge the
	// IPv4 address (a NAT64 gateway forwards to private IPv4 networks).
	if v4, ok := embeddedIPv4(ip); ok {
		return allowedAddr(allowed, v4)
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

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4compat  = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 is the IPv4 address an IPv6 address of NAT64's well-known
// prefix, 6to4 or the IPv4-compatible form carries.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case v4compat.Contains(ip) && b[12]|b[13] != 0: // not :: or ::1
		return netip.AddrFrom4([4]byte(b[12:16])), true
	}
	return netip.Addr{}, false
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
