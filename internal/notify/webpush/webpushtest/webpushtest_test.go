package webpushtest_test

import (
	"crypto/ecdh"
	"encoding/base64"
	"testing"

	"roster/internal/notify/webpush/webpushtest"
)

// TestDecryptRFC8291AppendixA: the receive side opens RFC 8291's example
// message (section 5, keys of Appendix A) to its plaintext, and refuses
// it with the wrong auth secret or a flipped byte.
func TestDecryptRFC8291AppendixA(t *testing.T) {
	b := func(s string) []byte {
		v, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	priv, err := ecdh.P256().NewPrivateKey(b("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()); got != "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4" {
		t.Fatalf("public key %s", got)
	}
	auth := b("BTBZMqHH6r4Tts7J_aSIgg")
	body := b("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
	plain, err := webpushtest.Decrypt(body, priv, auth)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != "When I grow up, I want to be a watermelon" {
		t.Fatalf("plaintext %q", plain)
	}
	wrong := append([]byte(nil), auth...)
	wrong[0] ^= 1
	if _, err := webpushtest.Decrypt(body, priv, wrong); err == nil {
		t.Fatal("opened with the wrong auth secret")
	}
	flipped := append([]byte(nil), body...)
	flipped[len(flipped)-1] ^= 1
	if _, err := webpushtest.Decrypt(flipped, priv, auth); err == nil {
		t.Fatal("opened a changed message")
	}
}
