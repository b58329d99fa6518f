package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/live"
	"roster/internal/notify"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestStreamSendsWhatThisInstancePublished: a notification made on the
// stream's instance is sent from what the fan-out published, without
// reading the feed, and is the same as the list gives; an entry that does
// not follow the last one sent (another change not held here) makes the
// stream read its feed, and is not sent as it came.
func TestStreamSendsWhatThisInstancePublished(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
		tok := e.login(bob.Email)
		ctx := context.Background()
		r := e.openHelloStream(tok)

		stop := storetest.Queries(db)
		if _, err := e.notify.Intake(ctx, e.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID},
			Data: map[string]any{"title": "Quarter", "url": "https://crm.example/r/1"}}}); err != nil {
			t.Fatal(err)
		}
		id, name, data := readEvent(t, r)
		for _, q := range stop() {
			if strings.Contains(q, "FROM notify_feed") || strings.Contains(q, "FROM notifications") {
				t.Errorf("the stream read what it was handed: %s", q)
			}
		}
		var streamed struct {
			Notification map[string]any `json:"notification"`
		}
		if err := json.Unmarshal([]byte(data), &streamed); err != nil || name != "new" {
			t.Fatalf("event %s %s: %v", name, data, err)
		}
		listed := e.do("GET", "/me/notifications", "", bearer(tok)).status(http.StatusOK).json()["items"].([]any)[0]
		if !reflect.DeepEqual(streamed.Notification, listed) {
			t.Fatalf("streamed %v\nlisted   %v", streamed.Notification, listed)
		}

		// An entry two past the last one sent: the stream reads its feed,
		// which does not have it, and sends nothing; the next real one
		// comes through.
		seq, _ := strconv.ParseInt(id, 10, 64)
		fake := &core.Notification{ID: 999999, Type: "system.report", Category: "system", Title: "Forged"}
		e.hub.Publish(ctx, []core.FeedEntry{{UserID: bob.ID, Seq: seq + 2, Kind: core.FeedNew, NotificationID: fake.ID, Unread: 9, Note: fake}})
		if _, err := e.notify.Intake(ctx, e.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID},
			Data: map[string]any{"title": "Next"}}}); err != nil {
			t.Fatal(err)
		}
		id, name, data = readEvent(t, r)
		if name != "new" || !strings.Contains(data, "Next") || strings.Contains(data, "Forged") || id != strconv.FormatInt(seq+1, 10) {
			t.Fatalf("after a gap: %s %s %s", id, name, data)
		}
	})
}

// TestIdleStreamsLeaveNetHTTP: an HTTP/1.1 stream is taken over from
// net/http once its head is sent, so an idle one holds none of net/http's
// serving goroutines (deep in the handler's stack, they were about half
// of a stream's memory); it still gets what is new, and it ends, freeing
// its place in the per-person limit, as soon as its client leaves.
func TestIdleStreamsLeaveNetHTTP(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{deps: roomy})
	bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
	tok := e.login(bob.Email)
	var readers []*bufio.Reader
	var bodies []io.Closer
	for range 10 {
		req, _ := http.NewRequest("GET", e.srv.URL+Prefix+"/me/notifications/stream", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := e.srv.Client().Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("stream: %v %v", res, err)
		}
		if res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("head: %v", res.Header)
		}
		r := bufio.NewReader(res.Body)
		if _, name, _ := readEvent(t, r); name != "hello" {
			t.Fatalf("first event %s", name)
		}
		readers, bodies = append(readers, r), append(bodies, res.Body)
		t.Cleanup(func() { res.Body.Close() })
	}
	if served, streams := streamGoroutines(); served != 0 || streams != 10 {
		t.Fatalf("with 10 streams open: %d streams served by net/http, %d streams in all", served, streams)
	}
	if _, err := e.notify.Intake(context.Background(), e.admin, []notify.EventInput{{Type: "system.report", Recipients: []int64{bob.ID},
		Data: map[string]any{"title": "Quarter"}}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range readers {
		if _, name, data := readEvent(t, r); name != "new" || !strings.Contains(data, "Quarter") {
			t.Fatalf("event %s %s", name, data)
		}
	}
	// The client leaves: its streams end at once (not at the next
	// heartbeat), and new ones fit in the limit again.
	for _, b := range bodies {
		b.Close()
	}
	waitStreamsGone(t)
	e.openHelloStream(tok)
}

// waitStreamsGone waits until no stream runs, failing after 10 seconds.
func waitStreamsGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, streams := streamGoroutines(); streams != 0; _, streams = streamGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still running after their clients left", streams)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamGoroutines counts the goroutines running a notification stream,
// and those of them that net/http serves.
func streamGoroutines() (served, streams int) {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "api.(*API).stream(") {
			streams++
			if strings.Contains(g, "net/http.(*conn).serve") {
				served++
			}
		}
	}
	return served, streams
}

// TestThousandStreamsFromOneToken: 1,000 streams asked at once with one
// token (rate limits out of the way) open ten, the per-person limit; the
// other 990 get 429 at once, none hangs; once the ten close, no stream is
// left running and a new one opens.
func TestThousandStreamsFromOneToken(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite), envOpts{deps: roomy})
	bob := e.user("Acme", "Bob", "bob@example.com", core.RoleUser)
	tok := e.login(bob.Email)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 1000}}
	var mu sync.Mutex
	codes := map[int]int{}
	var open []io.Closer
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", e.srv.URL+Prefix+"/me/notifications/stream", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[-1]++
				return
			}
			codes[res.StatusCode]++
			if res.StatusCode == http.StatusOK {
				open = append(open, res.Body)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		})
	}
	wg.Wait()
	if codes[http.StatusOK] != live.DefaultMaxPerUser || codes[http.StatusTooManyRequests] != 1000-live.DefaultMaxPerUser {
		t.Fatalf("answers %v, want %d × 200 and the rest 429", codes, live.DefaultMaxPerUser)
	}
	for _, b := range open {
		b.Close()
	}
	waitStreamsGone(t)
	e.openHelloStream(tok)
}
