// Command load drives the benchmark scenarios wrk cannot (issue 11): sign-in
// against the hashes/s of Roster's own argon2id parameters, post → SSE
// receipt latency, the most events/s, a broadcast to every stream of a
// workspace, and thousands of idle streams. bench/run.sh runs it after the
// wrk scenarios of each engine.
//
//	go run ./bench/load login        --url http://127.0.0.1:8080 --creds creds.jsonl --pid 1234
//	go run ./bench/load sse-latency  --url ... --creds ... [--rate 1000]
//	go run ./bench/load events-max   --url ... --creds ...
//	go run ./bench/load broadcast    --url ... --creds ... [--streams 10000]
//	go run ./bench/load idle-streams --url ... --creds ... --pid 1234 [--streams 10000 --hold 10s]
//	go run ./bench/load patch-durable --url ... --creds ... --pid 1234 --state patch.json
//	go run ./bench/load patch-check   --url ... --creds ... --state patch.json --log roster.log
//	go run ./bench/load soak          --url ... --creds ... --pid 1234 --metrics http://127.0.0.1:9090/metrics [--duration 30m --rate 200 --out soak.md]
//
// patch-durable saves names through PATCH /api/v1/me from many clients and
// kills the server (kill -9) while they write; after a restart,
// patch-check finds every acknowledged name (or a later one) and counts
// SQLITE_BUSY in the server's log.
//
// Each result is one JSON object per line on stdout, in the row shape
// bench/report reads (with figure, goal and met for its targets table),
// and a line for people on stderr.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"roster/internal/auth"
)

// cred is one line of `roster seed --credentials`.
type cred struct {
	UserID      int64  `json:"user_id"`
	WorkspaceID int64  `json:"workspace_id"`
	Email       string `json:"email"`
	Admin       bool   `json:"admin"`
	APIToken    string `json:"api_token"`
	Session     string `json:"session"`
}

// row is one result, in bench/report's shape.
type row struct {
	Engine   string  `json:"engine"`
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"` // always roster: these have no baseline
	Round    int     `json:"round"`
	RPS      float64 `json:"requests_per_s,omitempty"`
	P50      string  `json:"p50,omitempty"`
	P99      string  `json:"p99,omitempty"`
	Errors   int     `json:"errors"`
	PeakRSS  int64   `json:"peak_rss_bytes,omitempty"`

	// The targets table: the measured figure, the goal, whether it was met,
	// and the number compared across engines (better: higher or lower).
	Figure string  `json:"figure"`
	Goal   string  `json:"goal"`
	Met    bool    `json:"met"`
	Value  float64 `json:"value"`
	Better string  `json:"better"`

	HashesPerS float64 `json:"hashes_per_s,omitempty"`
	Rejected   int     `json:"rejected_429,omitempty"`
	Lost       int     `json:"lost,omitempty"`
	MaxMS      float64 `json:"max_ms,omitempty"`
	Streams    int     `json:"streams,omitempty"`
	Received   int     `json:"received,omitempty"`
	RSS        int64   `json:"rss_bytes,omitempty"`
}

type options struct {
	url, credsPath, engine, password, eventType     string
	state, logPath, metrics, out                    string
	pid, conns, streams, workspace, rate, sourceIPs int
	duration, hashFor, hold, wait, window           time.Duration
	creds                                           []cred
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: load login|sse-latency|events-max|broadcast|idle-streams|patch-durable|patch-check|soak [flags]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	var o options
	f := flag.NewFlagSet("load "+cmd, flag.ExitOnError)
	f.StringVar(&o.url, "url", "http://127.0.0.1:8080", "Roster's base URL")
	f.StringVar(&o.credsPath, "creds", "", "the credentials file of roster seed (JSON lines)")
	f.StringVar(&o.engine, "engine", "sqlite", "the engine name written into each row")
	f.StringVar(&o.password, "password", "seed-password-1", "the seeded people's password (roster seed --password)")
	f.StringVar(&o.eventType, "type", "chat.group", "the event type posted (chat.group: the centre only by default)")
	f.IntVar(&o.pid, "pid", 0, "the server's process id, for its RSS (0: not measured)")
	f.IntVar(&o.conns, "concurrency", 0, "clients at once (default: login 200, sse-latency 32, events-max 64)")
	f.IntVar(&o.streams, "streams", 10000, "broadcast, idle-streams: streams to open, one person each")
	f.IntVar(&o.workspace, "workspace", 1, "broadcast, idle-streams, sse-latency: the workspace whose people are used")
	f.IntVar(&o.sourceIPs, "source-ips", 8, "login: loopback addresses the clients come from, 127.0.0.2 on (0: the system's choice)")
	f.IntVar(&o.rate, "rate", 1000, "sse-latency: events posted per second; soak: requests per second")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long load is applied")
	f.DurationVar(&o.hashFor, "hash-for", 3*time.Second, "login: how long argon2id is measured on all cores")
	f.DurationVar(&o.hold, "hold", 10*time.Second, "idle-streams: how long the streams stay idle before the RSS is read")
	f.DurationVar(&o.wait, "wait", 10*time.Second, "how long to wait for stragglers after the load")
	f.StringVar(&o.state, "state", "", "patch-durable, patch-check: the file of acknowledged names")
	f.StringVar(&o.logPath, "log", "", "patch-check: the server's log, searched for SQLITE_BUSY")
	f.StringVar(&o.metrics, "metrics", "", "soak: the server's Prometheus /metrics URL, for its goroutines")
	f.StringVar(&o.out, "out", "", "soak: a Markdown file the per-window table is appended to")
	f.DurationVar(&o.window, "window", time.Minute, "soak: how often p99, RSS and goroutines are taken")
	_ = f.Parse(os.Args[2:])
	var err error
	if o.creds, err = readCreds(o.credsPath); err != nil {
		fail(err)
	}
	raiseOpenFiles()
	ctx := context.Background()
	var rows []row
	switch cmd {
	case "login":
		rows, err = login(ctx, o)
	case "sse-latency":
		rows, err = sseLatency(ctx, o)
	case "events-max":
		rows, err = eventsMax(ctx, o)
	case "soak":
		rows, err = soak(ctx, o)
	case "broadcast":
		rows, err = broadcast(ctx, o, "broadcast", 0)
	case "idle-streams":
		rows, err = broadcast(ctx, o, "idle-streams", o.hold)
	case "patch-durable":
		err = patchDurable(ctx, o)
	case "patch-check":
		rows, err = patchCheck(ctx, o)
	default:
		err = fmt.Errorf("unknown scenario %q", cmd)
	}
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, r := range rows {
		r.Engine, r.Target, r.Round = o.engine, "roster", 1
		if err := enc.Encode(r); err != nil {
			fail(err)
		}
		verdict := "met"
		if !r.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(os.Stderr, "%-8s %-34s %s (goal %s: %s)\n", o.engine, r.Scenario, r.Figure, r.Goal, verdict)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}

func readCreds(path string) ([]cred, error) {
	if path == "" {
		return nil, errors.New("--creds is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []cred
	for line := range bytes.Lines(b) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var c cred
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no credentials", path)
	}
	return out, nil
}

// raiseOpenFiles lifts the soft limit on open files to the hard one: ten
// thousand streams are ten thousand sockets.
func raiseOpenFiles() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func openFilesLimit() uint64 {
	var l syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}

// people returns the seeded people of a workspace, its admin first.
func (o options) people(workspace int) (admin cred, all []cred, err error) {
	for _, c := range o.creds {
		if c.WorkspaceID != int64(workspace) {
			continue
		}
		if c.Admin && admin.APIToken == "" {
			admin = c
		}
		all = append(all, c)
	}
	if admin.APIToken == "" {
		return admin, nil, fmt.Errorf("no admin of workspace %d in %s", workspace, o.credsPath)
	}
	return admin, all, nil
}

// client reuses its connections: as many idle ones are kept as clients run.
func client(conns int, timeout time.Duration) *http.Client {
	return clientFrom(nil, conns, timeout)
}

// clientFrom is client with connections from the local address from (nil:
// any).
func clientFrom(from net.Addr, conns int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, LocalAddr: from}).DialContext,
		MaxIdleConns:          conns + 16,
		MaxIdleConnsPerHost:   conns + 16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
	}}
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(pid int, field string) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTicks is the process's CPU time so far in clock ticks (user and
// system, /proc/PID/stat fields 14 and 15; the command name, which may hold
// spaces, ends at the last ')').
func cpuTicks(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndex(string(b), ") ")
	if err != nil || i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b)[i+2:])
	if len(f) < 13 {
		return 0, false
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	sys, err2 := strconv.ParseInt(f[12], 10, 64)
	return user + sys, err1 == nil && err2 == nil
}

// waitIdle writes the machine's dirty pages out and waits until the
// process takes under a fifth of a core for a second (at most two
// minutes), as bench/run.sh's settle does: work the scenario left queued,
// the kernel's writeback included, must not share the cores with what is
// measured next. Linux counts CPU time in USER_HZ ticks, 100 a second.
func waitIdle(pid int) {
	syscall.Sync()
	if pid <= 0 {
		return
	}
	for start := time.Now(); time.Since(start) < 2*time.Minute; {
		a, ok := cpuTicks(pid)
		time.Sleep(time.Second)
		b, ok2 := cpuTicks(pid)
		if !ok || !ok2 || (b-a)*5 < 100 {
			return
		}
	}
}

// resetPeak resets the process's VmHWM to its current RSS, so the peak read
// afterwards is this scenario's (writing 5 to clear_refs; needs to own it).
func resetPeak(pid int) bool {
	return pid > 0 && os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// percentile of sorted durations, q in [0, 1].
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func msString(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// post sends a JSON body and reads the answer whole, so the connection is
// reused.
func post(ctx context.Context, c *http.Client, url, token string, body []byte) (int, []byte, error) {
	return send(ctx, c, http.MethodPost, url, token, body)
}

func send(ctx context.Context, c *http.Client, method, url, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// errorLog keeps the first few distinct errors for stderr.
type errorLog struct {
	mu   sync.Mutex
	n    int
	seen []string
}

func (e *errorLog) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.seen) < 5 && !slices.Contains(e.seen, s) {
		e.seen = append(e.seen, s)
		fmt.Fprintln(os.Stderr, "load: error:", s)
	}
}

// check counts an answer that is an error or has another status than want,
// and reports whether it had want.
func (e *errorLog) check(status, want int, body []byte, err error) bool {
	switch {
	case err != nil:
		e.add(err.Error())
	case status != want:
		e.add(fmt.Sprintf("%d %.200s", status, body))
	default:
		return true
	}
	return false
}

func (e *errorLog) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// hashesPerSecond runs Roster's own password hash (its argon2id parameters)
// on every core for d, after a second of the same untimed: the load
// generator is a new process, and its first hashes (19 MiB each) grow its
// heap. Timed from the start, the figure before the sign-ins came out well
// under the one after them in two full runs (55.2 and 51.5 against 81.2
// and 83.1, then 39.5 and 40.7 against 61.1 and 66.8 hashes/s, the
// second with the writeback synced); with the warm-up 58.7 against 64.5
// and 67.2 against 63.6.
func hashesPerSecond(ctx context.Context, password string, d time.Duration) (float64, error) {
	if _, err := hashesFor(ctx, password, time.Second); err != nil {
		return 0, err
	}
	return hashesFor(ctx, password, d)
}

func hashesFor(ctx context.Context, password string, d time.Duration) (float64, error) {
	cores := runtime.NumCPU()
	h := auth.NewHasher(cores)
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range cores {
		wg.Go(func() {
			for time.Since(start) < d {
				if _, err := h.Hash(ctx, password); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), firstErr
}

// login signs the seeded people in from many clients at once. Hashes/s is
// measured alone, before the sign-ins and again after them, so neither
// figure takes cores from the other; the ratio is to the mean of the two,
// as a wrk scenario's is to a baseline measured in the same run: on a
// shared machine the cores' speed drifts within minutes (in one run
// 62.5 hashes/s before the SQLite sign-ins, 78.0 before PostgreSQL's).
func login(ctx context.Context, o options) ([]row, error) {
	conns := cmp(o.conns, 200)
	before, err := hashesPerSecond(ctx, o.password, o.hashFor)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "load: argon2id with Roster's parameters: %.1f hashes/s on %d cores\n", before, runtime.NumCPU())
	// Sign-in attempts in flight count against the client IP's limit (50 in
	// the window), as the attempts of one address should: the clients come
	// from several loopback addresses, as 200 people do from theirs.
	ips := max(1, o.sourceIPs)
	clients := make([]*http.Client, ips)
	for k := range clients {
		var from net.Addr
		if o.sourceIPs > 0 {
			from = &net.TCPAddr{IP: net.IPv4(127, 0, byte(k/250), byte(2+k%250))}
		}
		clients[k] = clientFrom(from, conns/ips+1, 60*time.Second)
	}
	url := o.url + "/api/v1/auth/login"
	var next, ok, rejected atomic.Int64
	var errs errorLog
	resetPeak(o.pid)
	all, elapsed := closedLoop(conns, o.duration, func(w int) bool {
		p := o.creds[int(next.Add(1)-1)%len(o.creds)]
		body, _ := json.Marshal(map[string]string{"email": p.Email, "password": o.password})
		status, b, err := post(ctx, clients[w%ips], url, "", body)
		switch {
		case err != nil:
			errs.add(err.Error())
		case status == http.StatusOK && bytes.Contains(b, []byte(`"signed_in"`)):
			ok.Add(1)
			return true
		case status == http.StatusTooManyRequests:
			rejected.Add(1)
		default:
			errs.add(fmt.Sprintf("%d %.200s", status, b))
		}
		return false
	})
	lps := float64(ok.Load()) / elapsed.Seconds()
	peak := procStatus(o.pid, "VmHWM")
	waitIdle(o.pid)
	after, err := hashesPerSecond(ctx, o.password, o.hashFor)
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: argon2id after the sign-ins: %v; the ratio is to the hashes/s before them\n", err)
		after = before
	}
	fmt.Fprintf(os.Stderr, "load: argon2id after the sign-ins: %.1f hashes/s\n", after)
	hps := (before + after) / 2
	ratio := lps / hps
	nerr := errs.count()
	r := row{Scenario: "POST /api/v1/auth/login", RPS: lps, P50: msString(percentile(all, .5)), P99: msString(percentile(all, .99)),
		Errors: nerr, Rejected: int(rejected.Load()), PeakRSS: peak, HashesPerS: hps, Value: lps, Better: "higher",
		Figure: fmt.Sprintf("%.1f logins/s = %.2f × %.1f hashes/s (%.1f before, %.1f after); p50 %s, p99 %s; %d errors, %d × 429",
			lps, ratio, hps, before, after, msString(percentile(all, .5)), msString(percentile(all, .99)), nerr, rejected.Load()),
		Goal: "argon2-bound: ≥ 0.7 × hashes/s, 0 errors but 429", Met: ratio >= 0.7 && nerr == 0}
	rows := []row{r}
	if o.pid > 0 {
		rows = append(rows, row{Scenario: "login: peak RSS", PeakRSS: peak, Value: mb(peak), Better: "lower",
			Figure: fmt.Sprintf("%.0f MB", mb(peak)), Goal: "≤ 512 MB", Met: peak <= 512<<20})
	}
	return rows, nil
}

// closedLoop runs conns clients for d, each calling do again as soon as it
// returns; do gets its client's number and reports whether its call
// succeeded. It returns the sorted latencies of the successes and the time
// taken.
func closedLoop(conns int, d time.Duration, do func(w int) bool) ([]time.Duration, time.Duration) {
	lat := make([][]time.Duration, conns)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t := time.Now()
				if do(w) {
					lat[w] = append(lat[w], time.Since(t))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	return all, elapsed
}

func cmp(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// sse is one open notification stream.
type sse struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// openStream opens GET /me/notifications/stream with token and calls
// onEvent for each event (hello first) until ctx ends; ready gets nil at
// hello or the error that kept the stream from opening.
func openStream(ctx context.Context, c *http.Client, base, token string, ready chan<- error, onEvent func(name, data string)) *sse {
	ctx, cancel := context.WithCancel(ctx)
	s := &sse{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		signalled := false
		signal := func(err error) {
			if !signalled {
				signalled = true
				ready <- err
			}
		}
		defer func() { signal(errors.New("the stream ended before hello")) }()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/me/notifications/stream", nil)
		if err != nil {
			signal(err)
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := c.Do(req)
		if err != nil {
			signal(err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			signal(fmt.Errorf("stream: %d %s", resp.StatusCode, b))
			return
		}
		br := bufio.NewReaderSize(resp.Body, 2048)
		var name, data string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "":
				if name != "" {
					onEvent(name, data)
					if name == "hello" {
						signal(nil)
					}
				}
				name, data = "", ""
			case strings.HasPrefix(line, "event: "):
				name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data = line[len("data: "):]
			}
		}
	}()
	return s
}

func (s *sse) close() {
	s.cancel()
	<-s.done
}

// marker finds the number between #…# in a new event's data: the
// sequence number the poster put into the title.
func marker(data string) (int64, bool) {
	i := strings.IndexByte(data, '#')
	if i < 0 {
		return 0, false
	}
	j := strings.IndexByte(data[i+1:], '#')
	if j < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(data[i+1:i+1+j], 10, 64)
	return n, err == nil
}

func eventBody(typ string, recipients any, seq int64) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "recipients": recipients,
		"data": map[string]any{"title": fmt.Sprintf("#%d#", seq), "from": "bench", "text": "load"}})
	return b
}

// sseLatency posts events to one person at a steady rate and times each
// from its post to its arrival on the person's stream.
func sseLatency(ctx context.Context, o options) ([]row, error) {
	admin, people, err := o.people(o.workspace)
	if err != nil {
		return nil, err
	}
	recipient := people[min(1, len(people)-1)] // not the admin who posts
	conns := cmp(o.conns, 32)
	total := int(float64(o.rate) * o.duration.Seconds())
	sent := make([]atomic.Int64, total) // unix ns at post, 0 until posted
	got := make([]atomic.Int64, total)  // unix ns at receipt
	var received, strays atomic.Int64
	ready := make(chan error, 1)
	s := openStream(ctx, client(1, 0), o.url, recipient.APIToken, ready, func(name, data string) {
		if name != "new" {
			return
		}
		now := time.Now().UnixNano()
		if n, ok := marker(data); ok && n >= 0 && n < int64(total) && got[n].CompareAndSwap(0, now) {
			received.Add(1)
		} else {
			strays.Add(1)
		}
	})
	if err := <-ready; err != nil {
		return nil, err
	}
	defer s.close()
	c := client(conns, 30*time.Second)
	url := o.url + "/api/v1/events"
	// First one event, waited for: its arrival says the fan-outs queued
	// before (a scenario run just before posts thousands) are done, so the
	// latency measured is that of the paced rate, not of a backlog.
	if status, b, err := post(ctx, c, url, admin.APIToken, eventBody(o.eventType, []int64{recipient.UserID}, int64(total))); err != nil || status != http.StatusAccepted {
		return nil, fmt.Errorf("warm-up event: %d %s %v", status, b, err)
	}
	for wait := time.Now().Add(2 * time.Minute); strays.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(wait) {
			return nil, errors.New("the warm-up event never arrived")
		}
	}
	strays.Store(0)
	interval := time.Second / time.Duration(o.rate)
	var next, acked atomic.Int64
	var errs errorLog
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
				sent[i].Store(time.Now().UnixNano())
				status, b, err := post(ctx, c, url, admin.APIToken, eventBody(o.eventType, []int64{recipient.UserID}, i))
				if errs.check(status, http.StatusAccepted, b, err) {
					acked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for wait := time.Now().Add(o.wait); received.Load() < acked.Load() && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
	}
	var lat []time.Duration
	for i := range total {
		if g, p := got[i].Load(), sent[i].Load(); g != 0 && p != 0 {
			lat = append(lat, time.Duration(g-p))
		}
	}
	slices.Sort(lat)
	eps := float64(acked.Load()) / elapsed.Seconds()
	lost := int(acked.Load() - received.Load())
	p50, p99 := percentile(lat, .5), percentile(lat, .99)
	var worst time.Duration
	if len(lat) > 0 {
		worst = lat[len(lat)-1]
	}
	nerr := errs.count()
	return []row{{Scenario: fmt.Sprintf("post → SSE receipt at %d events/s", o.rate), RPS: eps, P50: msString(p50), P99: msString(p99),
		Errors: nerr, Lost: lost, MaxMS: msOf(worst), Value: msOf(p99), Better: "lower",
		Figure: fmt.Sprintf("p99 %s (p50 %s, max %s) at %.0f events/s; %d lost, %d errors", msString(p99), msString(p50), msString(worst),
			eps, lost, nerr),
		Goal: "p99 ≤ 100 ms, 0 lost", Met: p99 <= 100*time.Millisecond && lost == 0 && nerr == 0 && eps >= 0.95*float64(o.rate)}}, nil
}

// eventsMax posts events to one person as fast as its clients can.
func eventsMax(ctx context.Context, o options) ([]row, error) {
	admin, people, err := o.people(o.workspace)
	if err != nil {
		return nil, err
	}
	recipient := people[min(1, len(people)-1)]
	conns := cmp(o.conns, 64)
	c := client(conns, 30*time.Second)
	url := o.url + "/api/v1/events"
	var seq atomic.Int64
	var errs errorLog
	all, elapsed := closedLoop(conns, o.duration, func(int) bool {
		status, b, err := post(ctx, c, url, admin.APIToken, eventBody(o.eventType, []int64{recipient.UserID}, seq.Add(1)))
		return errs.check(status, http.StatusAccepted, b, err)
	})
	eps := float64(len(all)) / elapsed.Seconds()
	nerr := errs.count()
	return []row{{Scenario: "POST /api/v1/events, most events/s", RPS: eps, P50: msString(percentile(all, .5)),
		P99: msString(percentile(all, .99)), Errors: nerr, Value: eps, Better: "higher",
		Figure: fmt.Sprintf("%.0f events/s (%d clients; p99 %s); %d errors", eps, conns, msString(percentile(all, .99)), nerr),
		Goal:   "≥ 5,000 events/s", Met: eps >= 5000 && nerr == 0}}, nil
}

// broadcast opens a stream for each of n people of a workspace, waits for
// every hello, holds them idle (idle-streams: then reads the server's RSS),
// posts one event to all and times its arrival on every stream.
func broadcast(ctx context.Context, o options, scenario string, hold time.Duration) ([]row, error) {
	admin, people, err := o.people(o.workspace)
	if err != nil {
		return nil, err
	}
	n := min(o.streams, len(people))
	if n < o.streams {
		fmt.Fprintf(os.Stderr, "load: workspace %d has %d people: %d streams, not %d\n", o.workspace, len(people), n, o.streams)
	}
	if lim := openFilesLimit(); lim < uint64(n)+100 {
		fmt.Fprintf(os.Stderr, "load: %d streams need more open files than the limit of %d: raise it (ulimit -n)\n", n, lim)
	}
	stamp := time.Now().UnixNano()
	got := make([]atomic.Int64, n)
	var received atomic.Int64
	streamClient := client(0, 0)
	streams := make([]*sse, n)
	ready := make(chan error, n)
	var opened, failed int
	var errs errorLog
	before := procStatus(o.pid, "VmRSS")
	begin := time.Now()
	// Open at most 200 at a time, each waiting for its hello.
	pending := 0
	for i := range n {
		streams[i] = openStream(ctx, streamClient, o.url, people[i].APIToken, ready, func(name, data string) {
			if name == "new" {
				if m, ok := marker(data); ok && m == stamp && got[i].CompareAndSwap(0, time.Now().UnixNano()) {
					received.Add(1)
				}
			}
		})
		pending++
		for pending >= 200 || (i == n-1 && pending > 0) {
			if err := <-ready; err != nil {
				failed++
				errs.add(err.Error())
			} else {
				opened++
			}
			pending--
		}
	}
	defer func() {
		for _, s := range streams {
			s.cancel()
		}
	}()
	fmt.Fprintf(os.Stderr, "load: %d streams open in %s, %d failed\n", opened, time.Since(begin).Round(time.Millisecond), failed)
	var rows []row
	if hold > 0 {
		time.Sleep(hold)
		rss := procStatus(o.pid, "VmRSS")
		rows = append(rows, row{Scenario: fmt.Sprintf("%d idle streams: server RSS", opened), Streams: opened, RSS: rss, Errors: failed,
			Value: mb(rss), Better: "lower", Figure: fmt.Sprintf("%.0f MB with %d streams open, %.0f MB before them (%.0f kB a stream); %d failed to open",
				mb(rss), opened, mb(before), float64(rss-before)/1024/float64(max(opened, 1)), failed),
			Goal: "≤ 300 MB (at 10,000 streams)", Met: rss > 0 && rss <= 300<<20 && failed == 0})
	}
	c := client(1, 60*time.Second)
	t0 := time.Now()
	status, b, err := post(ctx, c, o.url+"/api/v1/events", admin.APIToken, eventBody(o.eventType, "all", stamp))
	if err != nil || status != http.StatusAccepted {
		return nil, fmt.Errorf("post to all: %d %.200s %v", status, b, err)
	}
	accepted := time.Since(t0)
	for wait := time.Now().Add(o.wait); received.Load() < int64(opened) && time.Now().Before(wait); {
		time.Sleep(5 * time.Millisecond)
	}
	var lat []time.Duration
	for i := range n {
		if g := got[i].Load(); g != 0 {
			lat = append(lat, time.Duration(g-t0.UnixNano()))
		}
	}
	slices.Sort(lat)
	var all time.Duration
	if len(lat) > 0 {
		all = lat[len(lat)-1]
	}
	recv := int(received.Load())
	name := fmt.Sprintf("one event to all, %d streams", opened)
	if hold > 0 {
		name = fmt.Sprintf("%d idle streams: one event to all", opened)
	}
	rows = append(rows, row{Scenario: name, Streams: opened, Received: recv, Lost: opened - recv, Errors: failed,
		P50: msString(percentile(lat, .5)), P99: msString(percentile(lat, .99)), MaxMS: msOf(all), Value: msOf(all) / 1000, Better: "lower",
		Figure: fmt.Sprintf("%d of %d streams got it, the last after %.2f s (half by %.2f s; post answered in %s)", recv, opened, msOf(all)/1000,
			msOf(percentile(lat, .5))/1000, msString(accepted)),
		Goal: "≤ 2 s, every stream", Met: recv == opened && failed == 0 && all <= 2*time.Second})
	return rows, nil
}

// patchState is what patch-durable leaves for patch-check: each client's
// person and the number of the last name the server acknowledged.
type patchState struct {
	Acked  map[string]int64 `json:"acked"` // API token → last acknowledged number
	Writes int64            `json:"writes"`
	Killed bool             `json:"killed"`
}

// patchName is the name of write n; patch-check reads n back from it.
func patchName(n int64) string { return "Bench Durable " + strconv.FormatInt(n, 10) }

// patchDurable saves names from many clients, one person each, each name
// numbered higher than the last, and kills the server while they write.
func patchDurable(ctx context.Context, o options) error {
	if o.state == "" || o.pid == 0 {
		return errors.New("patch-durable needs --state and --pid")
	}
	_, people, err := o.people(o.workspace)
	if err != nil {
		return err
	}
	conns := min(cmp(o.conns, 64), len(people))
	c := client(conns, 10*time.Second)
	acked := make([]int64, conns)
	var writes atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			for n := int64(1); !stop.Load(); n++ {
				body, _ := json.Marshal(map[string]string{"name": patchName(n)})
				status, _, err := send(ctx, c, http.MethodPatch, o.url+"/api/v1/me", people[w].APIToken, body)
				if err != nil {
					return // the server is gone
				}
				if status == http.StatusOK {
					acked[w] = n
					writes.Add(1)
				}
			}
		})
	}
	time.Sleep(o.duration)
	// Killed mid-write: answers already received are what must survive.
	killErr := syscall.Kill(o.pid, syscall.SIGKILL)
	stop.Store(true)
	wg.Wait()
	st := patchState{Acked: map[string]int64{}, Writes: writes.Load(), Killed: killErr == nil}
	for w := range conns {
		st.Acked[people[w].APIToken] = acked[w]
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "load: %d acknowledged names from %d clients, then kill -9 (%v)\n", st.Writes, conns, killErr)
	return os.WriteFile(o.state, b, 0o600)
}

// patchCheck reads each person's name from the restarted server and
// compares it with the last one acknowledged before the kill.
func patchCheck(ctx context.Context, o options) ([]row, error) {
	b, err := os.ReadFile(o.state)
	if err != nil {
		return nil, err
	}
	var st patchState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	c := client(8, 10*time.Second)
	lost := 0
	var errs errorLog
	for token, want := range st.Acked {
		status, body, err := send(ctx, c, http.MethodGet, o.url+"/api/v1/me", token, nil)
		if !errs.check(status, http.StatusOK, body, err) {
			continue
		}
		var me struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(body, &me)
		got, _ := strconv.ParseInt(strings.TrimPrefix(me.Name, "Bench Durable "), 10, 64)
		if !strings.HasPrefix(me.Name, "Bench Durable ") {
			got = 0
		}
		if got < want {
			lost++
			errs.add(fmt.Sprintf("acknowledged %q, found %q", patchName(want), me.Name))
		}
	}
	busy := 0
	if o.logPath != "" {
		logText, err := os.ReadFile(o.logPath)
		if err != nil {
			return nil, err
		}
		busy = bytes.Count(logText, []byte("SQLITE_BUSY")) + bytes.Count(logText, []byte("database is locked"))
	}
	nerr := errs.count() - lost
	return []row{{Scenario: "PATCH /api/v1/me: kill -9 while writing", Errors: nerr, Lost: lost, Value: float64(lost),
		Figure: fmt.Sprintf("%d acknowledged writes by %d people, server killed mid-write (%v): %d lost after restart; %d × SQLITE_BUSY in the log",
			st.Writes, len(st.Acked), st.Killed, lost, busy),
		Goal: "every acknowledged write durable; no SQLITE_BUSY",
		Met:  st.Killed && lost == 0 && nerr == 0 && busy == 0}}, nil
}
