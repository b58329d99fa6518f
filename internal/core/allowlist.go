package core

import (
	"net/netip"
	"strings"
)

// ErrIPNotAllowed refuses a sign-in or request from outside the workspace's
// IP allowlist.
var ErrIPNotAllowed = Errorf(EFORBIDDEN, "errors.ip_not_allowed")

// AllowsIP reports whether the workspace's allowlist lets ip in. A stored
// list that no longer parses allows everyone: it was validated when saved,
// and a bad row must never lock the whole workspace out.
func (ws *Workspace) AllowsIP(ip string) bool {
	list, err := ParseAllowlist(ws.IPAllowlist)
	if err != nil {
		return true
	}
	return Allowed(list, ip)
}

// MaxAllowlistEntries bounds an allowlist, so checking a request stays cheap.
const MaxAllowlistEntries = 1000

// ParseAllowlist reads an allowlist: one IPv4/IPv6 address or CIDR range
// per line (commas and spaces also separate), "#" starts a comment. It
// returns the ranges normalised (host bits cleared) and, when a line is not
// valid, a field error naming its line number.
func ParseAllowlist(text string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for n, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, item := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			p, err := parseEntry(item)
			if err != nil {
				return nil, &Error{Code: EINVALID, Key: "errors.invalid", Fields: []FieldError{{Field: "allowlist",
					Key: "errors.field.allowlist_invalid", Data: map[string]any{"Line": n + 1, "Value": item}}}}
			}
			out = append(out, p)
			if len(out) > MaxAllowlistEntries {
				return nil, &Error{Code: EINVALID, Key: "errors.invalid", Fields: []FieldError{{Field: "allowlist",
					Key: "errors.field.allowlist_too_long", Data: map[string]any{"Count": MaxAllowlistEntries}}}}
			}
		}
	}
	return out, nil
}

func parseEntry(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), unmapBits(p)).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmapBits keeps an IPv4-mapped IPv6 range's length meaningful for IPv4.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// Allowed reports whether ip is inside the allowlist; an empty list allows
// every address, and an unparsable ip is refused when a list is set.
func Allowed(list []netip.Prefix, ip string) bool {
	if len(list) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
