package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soakWindow is one window of a soak: its requests, errors and p99, and
// the server's RSS and goroutines at its end.
type soakWindow struct {
	End        time.Duration
	Requests   int
	Errors     int
	P99        time.Duration
	RSS        int64
	Goroutines int
}

// soak applies a steady mixed load for o.duration at o.rate requests a
// second (reads of the profile, the notifications and the page, name
// saves, events to people whose streams stay open) and reports each
// window's p99, errors, RSS and goroutines. Met: no error at all, every
// stream still open at the end, and RSS at the end at most 10 % above
// what it was after the first window (the warm-up: caches and pools fill
// then).
func soak(ctx context.Context, o options) ([]row, error) {
	admin, people, err := o.people(o.workspace)
	if err != nil {
		return nil, err
	}
	if len(people) < 40 {
		return nil, fmt.Errorf("soak: workspace %d has %d people, want 40 or more", o.workspace, len(people))
	}
	const nStreams = 20
	streamClient := client(0, 0)
	var streamEvents, streamDrops atomic.Int64
	ready := make(chan error, nStreams)
	var streams []*sse
	for i := range nStreams {
		s := openStream(ctx, streamClient, o.url, people[1+i].APIToken, ready, func(name, _ string) {
			if name == "new" {
				streamEvents.Add(1)
			}
		})
		streams = append(streams, s)
	}
	for range nStreams {
		if err := <-ready; err != nil {
			return nil, fmt.Errorf("soak: open stream: %w", err)
		}
	}
	defer func() {
		for _, s := range streams {
			s.close()
		}
	}()

	c := client(64, 30*time.Second)
	var errs errorLog
	var mu sync.Mutex
	var lat []time.Duration
	var windowErrors int
	record := func(d time.Duration, ok bool) {
		mu.Lock()
		lat = append(lat, d)
		if !ok {
			windowErrors++
		}
		mu.Unlock()
	}
	// One request of the mix, chosen by its number.
	var seq atomic.Int64
	do := func(n int64) {
		p := people[1+int(n)%(len(people)-1)]
		start := time.Now()
		var status, want int
		var body []byte
		var err error
		switch n % 10 {
		case 0, 1, 2:
			status, body, err = send(ctx, c, http.MethodGet, o.url+"/api/v1/me", p.APIToken, nil)
			want = http.StatusOK
		case 3, 4:
			status, body, err = send(ctx, c, http.MethodGet, o.url+"/api/v1/me/notifications?limit=20", p.APIToken, nil)
			want = http.StatusOK
		case 5:
			status, body, err = page(ctx, c, o.url+"/settings/profile", p.Session)
			want = http.StatusOK
		case 6:
			status, body, err = send(ctx, c, http.MethodPatch, o.url+"/api/v1/me", p.APIToken,
				[]byte(`{"name":"Soak `+strconv.FormatInt(n, 10)+`"}`))
			want = http.StatusOK
		case 7, 8:
			to := people[1+rand.IntN(nStreams)].UserID
			status, body, err = post(ctx, c, o.url+"/api/v1/events", admin.APIToken, eventBody(o.eventType, []int64{to}, seq.Add(1)))
			want = http.StatusAccepted
		default:
			status, body, err = send(ctx, c, http.MethodGet, o.url+"/api/v1/me/notifications/unread-count", p.APIToken, nil)
			want = http.StatusOK
		}
		record(time.Since(start), errs.check(status, want, body, err))
	}

	interval := time.Second / time.Duration(max(o.rate, 1))
	window := o.window
	if window <= 0 {
		window = time.Minute
	}
	begin := time.Now()
	var next atomic.Int64
	total := int64(o.duration / interval)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
				do(i)
			}
		})
	}
	var windows []soakWindow
	tick := time.NewTicker(window)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	sample := func() {
		mu.Lock()
		w := lat
		n := windowErrors
		lat, windowErrors = nil, 0
		mu.Unlock()
		slices.Sort(w)
		sw := soakWindow{End: time.Since(begin).Round(time.Second), Requests: len(w), Errors: n, P99: percentile(w, .99),
			RSS: procStatus(o.pid, "VmRSS"), Goroutines: goroutines(ctx, o.metrics)}
		windows = append(windows, sw)
		fmt.Fprintf(os.Stderr, "soak %s: %s %d requests, %d errors, p99 %s, RSS %.0f MB, %d goroutines\n",
			o.engine, sw.End, sw.Requests, sw.Errors, msString(sw.P99), mb(sw.RSS), sw.Goroutines)
	}
loop:
	for {
		select {
		case <-tick.C:
			sample()
		case <-done:
			break loop
		}
	}
	tick.Stop()
	sample()
	// The streams got events throughout and are all still open.
	open := 0
	for _, s := range streams {
		if s.alive() {
			open++
		}
	}
	streamDrops.Store(int64(nStreams - open))

	nerr := errs.count()
	requests := 0
	var worst time.Duration
	for _, w := range windows {
		requests += w.Requests
		worst = max(worst, w.P99)
	}
	first, last := windows[0], windows[len(windows)-1]
	growth := 0.0
	if first.RSS > 0 {
		growth = float64(last.RSS-first.RSS) / float64(first.RSS) * 100
	}
	if o.out != "" {
		if err := writeSoak(o.out, o.engine, windows); err != nil {
			return nil, err
		}
	}
	elapsed := time.Since(begin)
	rate := float64(requests) / elapsed.Seconds()
	return []row{{Scenario: "soak: steady mixed load", RPS: rate, P99: msString(worst), Errors: nerr, RSS: last.RSS,
		Streams: nStreams, Received: int(streamEvents.Load()), Value: growth, Better: "lower",
		Figure: fmt.Sprintf("%d requests at %.0f/s over %s; %d errors; p99 per window %s–%s; RSS %.0f → %.0f MB (%+.1f %%) after the first window; goroutines %d → %d; %d of %d streams open to the end, %d events on them",
			requests, rate, elapsed.Round(time.Second), nerr, msString(minP99(windows)), msString(worst), mb(first.RSS), mb(last.RSS), growth,
			first.Goroutines, last.Goroutines, open, nStreams, streamEvents.Load()),
		Goal: "0 errors; RSS growth ≤ 10 %",
		Met:  nerr == 0 && open == nStreams && growth <= 10}}, nil
}

func minP99(ws []soakWindow) time.Duration {
	m := ws[0].P99
	for _, w := range ws {
		m = min(m, w.P99)
	}
	return m
}

// page GETs a page with a session cookie.
func page(ctx context.Context, c *http.Client, url, session string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.AddCookie(&http.Cookie{Name: "roster_session", Value: session})
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := readAll(resp)
	return resp.StatusCode, b, err
}

// goroutines reads go_goroutines from the server's metrics (0 without).
func goroutines(ctx context.Context, metrics string) int {
	if metrics == "" {
		return 0
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, metrics, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return 0
}

// writeSoak writes the windows as a Markdown table.
func writeSoak(path, engine string, ws []soakWindow) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "\n### %s\n\n| at | requests | errors | p99 ms | RSS MB | goroutines |\n|---|---|---|---|---|---|\n", engine)
	for _, w := range ws {
		fmt.Fprintf(f, "| %s | %d | %d | %.1f | %.0f | %d |\n", w.End, w.Requests, w.Errors, msOf(w.P99), mb(w.RSS), w.Goroutines)
	}
	return f.Close()
}

// alive says whether the stream is still being read (it ends when the
// server closes it or the connection fails).
func (s *sse) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func readAll(resp *http.Response) ([]byte, error) {
	var b strings.Builder
	_, err := bufio.NewReader(resp.Body).WriteTo(&b)
	return []byte(b.String()), err
}
