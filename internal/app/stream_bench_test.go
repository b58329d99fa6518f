package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/store"
)

// BenchmarkStreamLatency: 1,000 open streams (one each for 1,000 people),
// events posted through the API at 200 per second to random people; the
// time from a post's answer to its arrival on the person's stream, p50
// and p99, on SQLite:
//
//	go test -run '^$' -bench StreamLatency -benchtime 1x ./internal/app/
func BenchmarkStreamLatency(b *testing.B) {
	const people, rate, seconds = 1000, 200, 10
	ctx := context.Background()
	r := start(b, store.SQLite, app.Config{APIRate: 100000, APIBurst: 100000})
	setup, err := r.Accounts.Setup(ctx, account.SetupInput{Workspace: "Acme", Name: "Ana", Email: "ana@example.com", Password: "tangerine-violin", Timezone: "UTC", Language: "en"})
	if err != nil {
		b.Fatal(err)
	}
	admin := setup.User
	var ids []int64
	var tokens []string
	for i := range people {
		u, err := r.Accounts.CreateUser(ctx, account.CreateUserInput{Workspace: "Acme", Name: fmt.Sprint("User ", i), Email: fmt.Sprintf("u%d@example.com", i),
			Password: "tangerine-violin", Role: core.RoleAdmin})
		if err != nil {
			b.Fatal(err)
		}
		tok, _, err := r.Auth.CreateAPIToken(ctx, u, "bench", 30*24*time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		ids, tokens = append(ids, u.ID), append(tokens, tok)
	}
	adminToken, _, err := r.Auth.CreateAPIToken(ctx, admin, "poster", 30*24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 0}}
	var mu sync.Mutex
	sent := map[string]time.Time{} // title → when the post was answered
	var lat []time.Duration
	ready := make(chan struct{}, people)
	for i := range people {
		go func() {
			req, _ := http.NewRequest("GET", r.URL+"/api/v1/me/notifications/stream", nil)
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			ready <- struct{}{}
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if k := strings.Index(line, "ev-"); k >= 0 && strings.HasPrefix(line, "data: ") {
					title := line[k : k+strings.IndexAny(line[k:], `" `)]
					now := time.Now()
					mu.Lock()
					if at, ok := sent[title]; ok {
						lat = append(lat, now.Sub(at))
					}
					mu.Unlock()
				}
			}
		}()
	}
	for range people {
		<-ready
	}
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	var wg sync.WaitGroup
	for n := range rate * seconds {
		<-tick.C
		wg.Go(func() {
			title := fmt.Sprint("ev-", n)
			body := fmt.Sprintf(`{"type":"task.assigned","recipients":[%d],"data":{"title":%q,"from":"Ana"}}`, ids[n%people], title)
			req, _ := http.NewRequest("POST", r.URL+"/api/v1/events", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("Content-Type", "application/json")
			mu.Lock()
			sent[title] = time.Now() // before the post: the figure includes the request
			mu.Unlock()
			res, err := client.Do(req)
			if err != nil || res.StatusCode != http.StatusAccepted {
				b.Errorf("post: %v %v", res, err)
				return
			}
			res.Body.Close()
		})
	}
	wg.Wait()
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(lat) < rate*seconds*9/10 {
		b.Fatalf("only %d of %d events arrived", len(lat), rate*seconds)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat)), "received")
}
