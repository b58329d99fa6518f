package mobile_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/store"
	"roster/internal/store/storetest"
)

// benchSends sends b.N deliveries through the adapter (device read from
// SQLite, token opened, pushed, last use recorded) from 32 goroutines, as
// the notify queue's workers would, and reports sends per second and the
// connections the push server saw (connection reuse: a handful at most).
func benchSends(b *testing.B, platform, token string, withFCM, withAPNs bool, server func(*env) interface{ Conns() int }) {
	db := storetest.Open(b, store.SQLite)
	e := newEnv(b, db, withFCM, withAPNs)
	e.register(b, e.ana, platform, token)
	ctx := context.Background()
	var id atomic.Int64
	// Warm up: the access token or provider token, and the connection.
	if err := e.ch.Send(ctx, e.message(e.ana, id.Add(1))); err != nil {
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
	b.ReportMetric(float64(server(e).Conns()), "conns")
}

func BenchmarkFCMSend(b *testing.B) {
	benchSends(b, "android", androidToken, true, false, func(e *env) interface{ Conns() int } { return e.fcm })
}

func BenchmarkAPNsSend(b *testing.B) {
	benchSends(b, "ios", apnsToken, false, true, func(e *env) interface{ Conns() int } { return e.apns })
}
