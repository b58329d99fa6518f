package webpush

import "net/netip"

// PrivateKey is the VAPID private scalar in clear (tests look for it in
// the database).
func PrivateKey(ch *Channel) []byte {
	b, _ := ch.signer.key.Bytes()
	return b
}

// Signs is how many VAPID tokens the channel signed.
func Signs(ch *Channel) int {
	ch.signer.mu.Lock()
	defer ch.signer.mu.Unlock()
	return ch.signer.signs
}

var AllowedAddr = allowedAddr

func AllowedAddrOf(s string) bool { return allowedAddr(nil, netip.MustParseAddr(s)) }
