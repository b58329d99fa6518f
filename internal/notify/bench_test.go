package notify_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// Benchmarks of the targets in issue 9, on SQLite (the laptop case):
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/notify/
//
// Each reports its own figure (events/s, ms per fan-out, p50/p99 ms).

func BenchmarkIntakeSingleRecipient(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, storetest.Open(b, store.SQLite), 1)
	bob := f.users[0]
	// 64 clients at once, as 64 connections of a load generator would
	// post (group commit shares their transactions).
	const n, clients = 20_000, 64
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := c; i < n; i += clients {
				if _, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "task.assigned", Recipients: []int64{bob.ID},
					Data: map[string]any{"title": fmt.Sprint("Task ", i), "from": "Ada"}}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkFanoutTo10000(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, storetest.Open(b, store.SQLite), 10_000)
	var total time.Duration
	for i := 0; i < max(b.N, 3); i++ {
		acc, err := f.n.Intake(ctx, f.admin, []notify.EventInput{{Type: "system.report", AllUsers: true, Data: map[string]any{"title": fmt.Sprint("R", i)}}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := f.n.Fanout(ctx, acc[0].ID); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(max(b.N, 3)), "ms/fanout")
}

func BenchmarkCentreWith100000(b *testing.B) {
	ctx := context.Background()
	db := storetest.Open(b, store.SQLite)
	f := newFixture(b, db, 1)
	bob := f.users[0]
	// One event, 100,000 notifications of Bob's (the unique key is per
	// event and person, so each gets its own event row).
	const n = 100_000
	err := db.InTx(ctx, func(q *store.Q) error {
		ns := make([]*core.Notification, 0, 1000)
		for i := range n {
			e := &core.NotifyEvent{WorkspaceID: f.ws.ID, Type: "system.report", Data: map[string]any{"title": "x"}, Recipients: []int64{bob.ID}, OccurredAt: time.Now()}
			if _, err := q.InsertNotifyEvent(ctx, e); err != nil {
				return err
			}
			ns = append(ns, &core.Notification{WorkspaceID: f.ws.ID, UserID: bob.ID, EventID: e.ID, Type: "system.report", Category: "system",
				Title: "Your report is ready", Body: fmt.Sprint("Report ", i)})
			if len(ns) == cap(ns) || i == n-1 {
				stored, err := q.InsertNotifications(ctx, ns)
				if err != nil {
					return err
				}
				if _, err := q.AddToInboxes(ctx, stored); err != nil {
					return err
				}
				ns = ns[:0]
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var page, count []time.Duration
	for range 2000 {
		start := time.Now()
		p, err := f.n.List(ctx, bob, 0, "", 20)
		if err != nil || len(p.Items) != 20 {
			b.Fatal(err)
		}
		page = append(page, time.Since(start))
		start = time.Now()
		if c, err := f.n.UnreadCount(ctx, bob); err != nil || c != n {
			b.Fatal(c, err)
		}
		count = append(count, time.Since(start))
	}
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(page, 0.5), "page-p50-ms")
	b.ReportMetric(pct(page, 0.99), "page-p99-ms")
	b.ReportMetric(pct(count, 0.99), "count-p99-ms")
}
