package webpush_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	wp "github.com/SherClockHolmes/webpush-go"
	"github.com/golang-jwt/jwt/v5"

	"roster/internal/notify/webpush"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// BenchmarkWebPushSend sends b.N deliveries through the adapter
// (subscription read from SQLite and opened, payload encrypted, pushed to
// the local service, which checks the VAPID token and decrypts it, last
// use recorded) from 32 goroutines, as the notify queue's workers would;
// it reports sends per second and the connections the service accepted.
func BenchmarkWebPushSend(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	e := newEnv(b, db)
	e.subscribe(b, e.ana)
	ctx := context.Background()
	var id atomic.Int64
	if err := e.ch.Send(ctx, e.message(e.ana, id.Add(1))); err != nil { // warm: the token and a connection
		b.Fatal(err)
	}
	b.SetParallelism(16) // × GOMAXPROCS goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := e.ch.Send(ctx, e.message(e.ana, id.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
	b.ReportMetric(float64(e.svc.Conns()), "conns")
}

// BenchmarkLibraryEncrypt is the library's own work per message, no
// network: the encryption and the VAPID JWT it signs on every call (which
// the adapter replaces with its cached one).
func BenchmarkLibraryEncrypt(b *testing.B) {
	browser, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	rand.Read(auth)
	priv, pub, _ := wp.GenerateVAPIDKeys()
	sub := &wp.Subscription{Endpoint: "https://push.example.net/x", Keys: wp.Keys{P256dh: base64.RawURLEncoding.EncodeToString(browser.PublicKey().Bytes()),
		Auth: base64.RawURLEncoding.EncodeToString(auth)}}
	c := doFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 201, Body: io.NopCloser(strings.NewReader(""))}, nil
	})
	opts := &wp.Options{HTTPClient: c, RecordSize: webpush.RecordSize, Subscriber: "mailto:a@b.c", TTL: 60, VAPIDPublicKey: pub, VAPIDPrivateKey: priv}
	msg := []byte(`{"title":"New task","body":"Ana assigned it to you","url":"https://roster.example/tasks/7"}`)
	for b.Loop() {
		res, err := wp.SendNotificationWithContext(context.Background(), msg, sub, opts)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
}

// BenchmarkVAPIDSign is one ES256 VAPID token, the part of
// BenchmarkLibraryEncrypt the adapter's cache makes useless.
func BenchmarkVAPIDSign(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for b.Loop() {
		if _, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"aud": "https://push.example.net", "exp": time.Now().Add(12 * time.Hour).Unix(),
			"sub": "mailto:a@b.c"}).SignedString(key); err != nil {
			b.Fatal(err)
		}
	}
}
